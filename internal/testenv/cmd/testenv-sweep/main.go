// Command testenv-sweep removes what test processes that died without
// cleaning up left behind: engines, their containers and mounts, network
// namespaces, bridges and firewall rules of every testenv slot whose lock is
// free. Slots held by running test processes are left alone, so it is safe
// to run at any time, e.g. after `go test` in the Makefile (as root):
//
//	go run ./internal/testenv/cmd/testenv-sweep
package main

import (
	"fmt"
	"os"

	"github.com/swarmops/swarmops/internal/testenv"
)

func main() {
	logf := func(format string, args ...any) { fmt.Printf("testenv-sweep: "+format+"\n", args...) }
	if err := testenv.Sweep(logf); err != nil {
		fmt.Fprintln(os.Stderr, "testenv-sweep:", err)
		os.Exit(1)
	}
}
