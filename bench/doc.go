// Package bench is SwarmOps's benchmark suite (issue 16): one test,
// TestPerformanceTable, that starts what it needs as the other tests do
// (private engines and Redis through internal/testenv, a `swarmops serve`
// process built from ./cmd/swarmops), builds the load it measures, and
// prints one table of ratios, each measured side by side in the same run:
//
//   - list overhead: SwarmOps's service, task, node and network lists
//     against the engine's own call for the same data on the same manager,
//     alternating requests on keep-alive connections (medians);
//   - fleet health: GET /api/v1/clusters?health=true over a fleet of
//     single-node swarms against the slowest engine's own probe calls;
//   - throughput: authenticated GET /api/v1/clusters in redis mode under
//     Debian's wrk, against a bare fiber app doing the same two Redis GETs
//     (bench/refserver) run the same way;
//   - memory: the swarmops process's RSS idle and under load.
//
// SWARMOPS_BENCH=full (make bench) measures at the sizes of the issue;
// unset or smoke (go test ./..., make test) runs the same code at tiny
// sizes, checks that every row got a finite positive value, and asserts
// no threshold. SWARMOPS_BENCH_PROFILE=file also writes a CPU profile of
// an in-process instance serving the largest services list under load,
// and `go tool pprof -top` of it to file.top.txt.
package bench
