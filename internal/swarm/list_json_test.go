package swarm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
)

// fill sets v (settable) to random values of its type, every field of
// every struct within depth levels: strings with escapes, HTML, invalid
// UTF-8 and separators, nil or empty pointers, slices and maps.
func fill(rng *rand.Rand, v reflect.Value, depth int) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		t := time.Unix(rng.Int64N(4e9)-1e9, rng.Int64N(1e9))
		switch rng.IntN(3) {
		case 0:
			t = t.UTC()
		case 1:
			t = t.In(time.FixedZone("", (rng.IntN(48)-24)*1800))
		default:
			t = t.In(time.FixedZone("X", 3600))
		}
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(randomString(rng))
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		n := rng.Int64() >> (64 - bits)
		if rng.IntN(3) == 0 {
			n = rng.Int64N(20)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		n := rng.Uint64() >> (64 - bits)
		if rng.IntN(3) == 0 {
			n = rng.Uint64N(20)
		}
		v.SetUint(n)
	case reflect.Float32:
		v.SetFloat(float64(float32(rng.NormFloat64() * 1e3)))
	case reflect.Float64:
		v.SetFloat(randomFloat(rng))
	case reflect.Pointer:
		if depth <= 0 || rng.IntN(3) == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(rng, p.Elem(), depth-1)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i), depth)
			}
		}
	case reflect.Slice:
		if depth <= 0 || rng.IntN(4) == 0 {
			return
		}
		n := rng.IntN(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(rng, s.Index(i), depth-1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(rng, v.Index(i), depth-1)
		}
	case reflect.Map:
		if depth <= 0 || rng.IntN(4) == 0 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for range rng.IntN(4) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(rng, k, depth-1)
			fill(rng, e, depth-1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	}
}

var stringPieces = []string{
	"", "a", "web", "nginx:1.27@sha256:0123", "<script>", "a&b", `"quoted"`, `back\slash`, "tab\there", "new\nline",
	"\x00", "\x1f", "\x7f", "ü", "日本", "\u2028", "\u2029", "\xff", "\xed\xa0\x80", "\ufffd", "😀", "/", "running", "pending",
	"com.docker.stack.namespace", "ſ", "K",
}

func randomString(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(4) {
		b.WriteString(stringPieces[rng.IntN(len(stringPieces))])
	}
	return b.String()
}

func randomFloat(rng *rand.Rand) float64 {
	switch rng.IntN(6) {
	case 0:
		return 0
	case 1:
		return float64(rng.IntN(64)) / 4
	case 2:
		return rng.Float64() * 1e-8
	case 3:
		return rng.Float64() * 1e25
	case 4:
		return -rng.NormFloat64()
	}
	return math.Float64frombits(rng.Uint64()&^(0x7ff<<52) | uint64(rng.IntN(0x7fe))<<52) // finite
}

// readAll reads a list answer with item, as readList does.
func readAll(data []byte, item func(r *jsonIn)) error {
	_, err := readItems(data, func(r *jsonIn, _ *struct{}) { item(r) })
	return err
}

// docker decodes a list answer as the docker client does.
func docker[T any](data []byte) ([]T, error) {
	var v []T
	err := json.NewDecoder(bytes.NewReader(data)).Decode(&v)
	return v, err
}

// TestListRead_SameAsDocker: the list readers answer what the summaries
// of the docker client's full decoding answer, for random engine objects
// (every field set, strings of every kind).
func TestListRead_SameAsDocker(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 16))
	for i := range 300 {
		services := make([]swarm.Service, 1+rng.IntN(3))
		tasks := make([]swarm.Task, 1+rng.IntN(3))
		for j := range services {
			fill(rng, reflect.ValueOf(&services[j]).Elem(), 6)
		}
		for j := range tasks {
			fill(rng, reflect.ValueOf(&tasks[j]).Elem(), 6)
			if rng.IntN(2) == 0 {
				tasks[j].Status.State = swarm.TaskStateRunning
			}
		}
		sdata, err := json.Marshal(services)
		if err != nil {
			t.Fatal(err)
		}
		tdata, err := json.Marshal(tasks)
		if err != nil {
			t.Fatal(err)
		}
		compareReads(t, sdata, tdata)
		if t.Failed() {
			t.Fatalf("round %d", i)
		}
	}
}

// compareReads checks every reader of sdata (services) and tdata (tasks)
// against the docker client's decoding.
func compareReads(t *testing.T, sdata, tdata []byte) {
	t.Helper()
	fullS, errS := docker[swarm.Service](sdata)
	var sums []ServiceSummary
	var names []serviceName
	err := readAll(sdata, func(r *jsonIn) {
		var s swarm.Service
		readService(r, &s)
		sums = append(sums, summarize(s))
	})
	if errS == nil {
		if err != nil {
			t.Fatalf("services: %v\n%s", err, sdata)
		}
		want := make([]ServiceSummary, 0, len(fullS))
		for _, s := range fullS {
			want = append(want, summarize(s))
		}
		if diff := cmp.Diff(sums, want, cmp.Comparer(timeEqual)); len(want) > 0 && diff != "" {
			t.Errorf("service summaries (-got +want):\n%s\n%s", diff, sdata)
		}
		if err := readAll(sdata, func(r *jsonIn) {
			var s serviceName
			readServiceName(r, &s)
			names = append(names, s)
		}); err != nil {
			t.Fatalf("service names: %v", err)
		}
		for i, s := range fullS {
			if names[i] != (serviceName{ID: s.ID, Name: s.Spec.Name}) {
				t.Errorf("service name %d: %+v, want %s %s", i, names[i], s.ID, s.Spec.Name)
			}
		}
	} else if err != nil && errS == nil {
		t.Errorf("services: %v, though the docker client reads them:\n%s", err, sdata)
	}

	fullT, errT := docker[swarm.Task](tdata)
	var rows []Task
	counts := map[string]int{}
	err = readAll(tdata, func(r *jsonIn) {
		rows = append(rows, Task{})
		readTaskRow(r, &rows[len(rows)-1])
	})
	if err2 := readAll(tdata, func(r *jsonIn) {
		var t runningTask
		readRunningTask(r, &t)
		if t.State == "running" {
			counts[t.NodeID]++
		}
	}); err2 != nil && err == nil {
		// The counts read a part of what the rows read.
		t.Errorf("tasks: rows read, counts %v", err2)
	}
	if errT != nil {
		// The readers check the type of only the fields they read: a
		// read may succeed where the docker client's fails, not the
		// other way round (below).
		return
	}
	if err != nil {
		t.Fatalf("tasks: %v\n%s", err, tdata)
	}
	want := make([]Task, 0, len(fullT))
	wantCounts := map[string]int{}
	for _, tk := range fullT {
		want = append(want, taskRow(tk))
		if tk.Status.State == swarm.TaskStateRunning {
			wantCounts[tk.NodeID]++
		}
	}
	if diff := cmp.Diff(rows, want, cmp.Comparer(timeEqual)); len(want) > 0 && diff != "" {
		t.Errorf("task rows (-got +want):\n%s\n%s", diff, tdata)
	}
	if diff := cmp.Diff(counts, wantCounts); diff != "" {
		t.Errorf("running counts (-got +want):\n%s", diff)
	}
}

// timeEqual compares times by instant and zone offset, as JSON holds them.
func timeEqual(a, b time.Time) bool {
	_, oa := a.Zone()
	_, ob := b.Zone()
	return a.Equal(b) && oa == ob && (a.Location() == time.UTC) == (b.Location() == time.UTC)
}

// TestListRead_Variants: hand-made answers an engine could send, or that
// encoding/json reads in its own ways (names in another case, nulls,
// escapes, empty objects), read as the docker client reads them.
func TestListRead_Variants(t *testing.T) {
	services := []string{
		`[]`, `null`, ` [ ] `, `[null]`, `[{}]`,
		`[{"ID":"s1","Version":{"Index":7},"CreatedAt":"2026-01-02T03:04:05.123456789Z","UpdatedAt":"2026-01-02T04:04:05+02:00",
		  "Spec":{"Name":"web","Labels":{"com.docker.stack.namespace":"shop","b":"2","a":null},
		    "TaskTemplate":{"ContainerSpec":{"Image":"nginx:1.27@sha256:abc","Args":["a","b"]},"Placement":{"Constraints":["x==1"]}},
		    "Mode":{"Replicated":{"Replicas":3}},"EndpointSpec":{"Ports":[{"TargetPort":80,"PublishedPort":8080,"Protocol":"tcp","PublishMode":"ingress"}]}},
		  "Endpoint":{"Spec":{},"Ports":[{"TargetPort":80,"PublishedPort":30001}],"VirtualIPs":[{"NetworkID":"n","Addr":"10.0.0.2/24"}]},
		  "UpdateStatus":{"State":"updating","StartedAt":"2026-01-02T03:04:05Z","Message":"update in progress"},
		  "ServiceStatus":{"RunningTasks":2,"DesiredTasks":3,"CompletedTasks":0}}]`,
		`[{"id":"s2","spec":{"name":"lower","mode":{"global":{}}},"serviceStatus":{"runningTasks":1,"desiredTasks":4}}]`,
		`[{"ID":"s3","Spec":{"Name":"job","Mode":{"ReplicatedJob":{"MaxConcurrent":2}},"Labels":null},"ServiceStatus":null,"UpdateStatus":null}]`,
		`[{"ID":"s4","Spec":{"Name":"gj","Mode":{"GlobalJob":{},"Replicated":null}}},{"ID":"s5","Spec":{"Name":"r","Mode":{"Replicated":{"Replicas":null}}}}]`,
		`[{"ID":"s\u0036","Spec":{"Name":"esc\"aped\u00e9\ud83d\ude00","Labels":{"k\u00e9":"v\n"}}}]`,
		`[{"ID":"s7","Spec":{"Name":"inv\xffalid","Labels":{"\xfe":"\xff"}}}]`,
		`[{"ID":"s8","ID":"s8b","Spec":{"Name":"dup"},"Spec":{"Labels":{"x":"y"}}}]`,
		`[{"\u0049D":"s9","ſpec":{"Name":"folded"}}]`,
		`[{"ID":"s10","Spec":{"Name":"n","EndpointSpec":null,"TaskTemplate":{"ContainerSpec":null}},"Endpoint":{"Ports":null}}]`,
		`[{"ID":"s11","Spec":{"Name":"n","EndpointSpec":{"Ports":[]}},"Endpoint":{"Ports":[null,{}]}}]`,
		`[{"ID":"s12","CreatedAt":null,"Version":null,"Spec":null,"Endpoint":null,"UpdateStatus":{"StartedAt":null,"CompletedAt":"2026-01-02T03:04:05Z"}}]`,
		`[{"ID":"s13","Extra":{"deep":[[[{"a":[1,-2.5e-3,true,false,null,"x"]}]]]},"Spec":{"Name":"x"}}]` + "\n",
		`[{"ID":"s14"}] trailing`,
	}
	tasks := []string{
		`[]`, `null`, `[{}]`,
		`[{"ID":"t1","Version":{"Index":919},"CreatedAt":"2026-11-30T10:08:16.143324487Z","UpdatedAt":"2026-11-30T10:08:16.946304364Z","Labels":{},
		  "Spec":{"ContainerSpec":{"Image":"swarmops-test/hello:1","Isolation":"default"},"Placement":{"Constraints":["node.labels.bench-none==1"]},"ForceUpdate":0},
		  "ServiceID":"svc","Slot":9,"Status":{"Timestamp":"2026-11-30T10:08:16.898336026Z","State":"pending","Message":"pending task scheduling",
		  "Err":"no suitable node (scheduling constraints not satisfied on 1 node)","PortStatus":{}},"DesiredState":"running"}]`,
		`[{"ID":"t2","NodeID":"n1","Status":{"State":"running"},"Slot":-0,"CreatedAt":"2026-01-02T03:04:05+05:30"},{"ID":"t3","NodeID":"n1","Status":{"State":"running"}},{"NodeID":"n2","Status":{"State":"RUNNING"}}]`,
		`[{"id":"t4","nodeid":"n3","status":{"state":"running","err":"x"},"desiredstate":"shutdown","spec":{"containerspec":{"image":"a@sha256:1"}}}]`,
		`[{"ID":"t5","Spec":{"ContainerSpec":null},"Slot":null,"Status":null,"NodeID":null}]`,
		`[{"ID":"t6","Status":{"Message":"\u003cb\u003e \"hi\" \\ \/"}}]`,
	}
	// Syntax errors: every reader refuses them.
	bad := []string{
		``, ` `, `[`, `[{`, `[{"ID"`, `[{"ID":`, `[{"ID":"x"`, `[{"ID":"x",}]`, `[{"ID":"x"]`, `[{"ID" "x"}]`,
		`[{,"ID":"x"}]`, `[,]`, `[{}{}]`, `[{} {}]`, `{}`, `"x"`, `1`, `tru`, `[tru]`, `[nul]`, `[01]`,
		`[1.]`, `[1.e3]`, `[-]`, `[1e]`, `[+1]`, `[.5]`, `["\x01"]`, `["\q"]`, `["\u12g4"]`, `["abc`,
		`[{"ID":"x"}x]`, `[{"ID":"x"}` + strings.Repeat(" ", 3), `[{"a":truex}]`, `[{"a":nullx}]`, `[{"a":1x}]`,
		"[{\"ID\":\"a\x01b\"}]", `[{"CreatedAt":"yesterday"}]`, `[{"CreatedAt":5}]`, `[{"ID":1}]`,
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	}
	// Values of the wrong type: refused by the readers that read them.
	mistyped := []string{
		`[{"Slot":1.5}]`, `[{"Slot":"1"}]`, `[{"Slot":1e2}]`, `[{"Slot":99999999999999999999}]`, `[{"Status":"x"}]`,
		`[{"Version":{"Index":-1}}]`, `[{"Spec":{"Labels":{"a":1}}}]`, `[{"Spec":{"Mode":{"Global":5}}}]`,
		`[{"Endpoint":{"Ports":[{"TargetPort":70000}]}}]`, `[{"Endpoint":{"Ports":{}}}]`, `[{"NodeID":true}]`,
		`[{"Status":{"State":["running"]}}]`, `[{"Spec":{"ContainerSpec":{"Image":{}}}}]`,
	}
	for _, s := range services {
		compareReads(t, []byte(s), []byte(`[]`))
	}
	for _, s := range tasks {
		compareReads(t, []byte(`[]`), []byte(s))
	}
	for _, s := range bad {
		for _, read := range []func(r *jsonIn){
			func(r *jsonIn) { var s swarm.Service; readService(r, &s) },
			func(r *jsonIn) { var t Task; readTaskRow(r, &t) },
		} {
			if err := readAll([]byte(s), read); err == nil {
				t.Errorf("%.80q: read without error", s)
			}
		}
		compareReads(t, []byte(s), []byte(s))
	}
	for _, s := range mistyped {
		compareReads(t, []byte(s), []byte(s))
	}
}

// FuzzListRead: whatever the engine answers, a read the docker client
// decodes reads the same, and one the readers refuse it refuses too (the
// readers check the type of only the fields they read).
func FuzzListRead(f *testing.F) {
	f.Add([]byte(`[{"ID":"t1","Slot":2,"NodeID":"n","Status":{"State":"running","Err":"e"},"Spec":{"ContainerSpec":{"Image":"i"}},"CreatedAt":"2026-01-02T03:04:05Z"}]`))
	f.Add([]byte(`[{"ID":"s1","Spec":{"Name":"web","Labels":{"a":"b"},"Mode":{"Replicated":{"Replicas":3}}},"ServiceStatus":{"RunningTasks":1}}]`))
	f.Add([]byte(`[{"Endpoint":{"Ports":[{"TargetPort":80,"Protocol":"udp"}]},"UpdateStatus":{"State":"paused","StartedAt":"2026-01-02T03:04:05Z"}}]`))
	f.Add([]byte(`[{"Name":"n","Id":"x","IPAM":{"Config":[{"Subnet":"10.0.0.0/24","Gateway":"10.0.0.1"}]},"Labels":{"a":"b"},"Ingress":true}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		compareReads(t, data, data)
		compareNetworks(t, data)
		compareNodes(t, data)
	})
}

// TestAppendJSON_SameAsEncodingJSON: the list items are written as
// encoding/json writes them, byte for byte, for random values of every
// field (a field added to a summary and not to its writer fails here).
func TestAppendJSON_SameAsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 16))
	for range 2000 {
		checkAppend(t, rng, (*ServiceSummary).AppendJSON)
		checkAppend(t, rng, (*Task).AppendJSON)
		checkAppend(t, rng, (*NodeSummary).AppendJSON)
		checkAppend(t, rng, (*NetworkSummary).AppendJSON)
		if t.Failed() {
			return
		}
	}
}

func checkAppend[T any](t *testing.T, rng *rand.Rand, appendJSON func(*T, []byte) ([]byte, error)) {
	t.Helper()
	var v T
	fill(rng, reflect.ValueOf(&v).Elem(), 3)
	want, werr := json.Marshal(v)
	got, err := appendJSON(&v, []byte("prefix"))
	if (err == nil) != (werr == nil) {
		t.Fatalf("%T: error %v, encoding/json's %v", v, err, werr)
	}
	if werr == nil && string(got) != "prefix"+string(want) {
		t.Fatalf("%T:\n got %s\nwant prefix%s", v, got, want)
	}
}

// chunkReader reads data in chunks of random sizes.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rng.IntN(c.max))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// TestReadStream_Segments: a large answer read in segments while it
// arrives reads as it reads whole, in turn, wherever the boundary's
// pattern turns up (between elements, inside strings, inside nested
// values), however it arrives, errors included.
func TestReadStream_Segments(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 16))
	fake := string(elemStart)
	for round := range 48 {
		var tasks []swarm.Task
		for i := range 2500 {
			tk := swarm.Task{ID: fmt.Sprintf("t%05d", i), ServiceID: "s", Slot: i, NodeID: "n"}
			tk.Status.State = swarm.TaskStateRunning
			tk.Status.Message = strings.Repeat("m", rng.IntN(500))
			switch rng.IntN(4 + round%3*10) {
			case 0:
				tk.Status.Err = fake // inside a string
			case 1:
				tk.Annotations.Labels = map[string]string{"x": fake + "]", "y": `"},{"ID":"`}
			case 2:
				tk.Spec.Networks = []swarm.NetworkAttachmentConfig{{Target: "a"}, {Target: "b"}}
			}
			tasks = append(tasks, tk)
		}
		data, err := json.Marshal(tasks)
		if err != nil {
			t.Fatal(err)
		}
		switch round % 4 {
		case 1: // broken near the end
			data = append(data[:len(data)*7/8], data[len(data)*7/8+3:]...)
		case 2: // broken near the start
			data = append(data[:len(data)/8], data[len(data)/8+3:]...)
		case 3: // cut short
			data = data[:len(data)-1-rng.IntN(100)]
		}
		orig := bytes.Clone(data)
		whole, werr := readElems(&jsonIn{b: bytes.Clone(data)}, len(data), readTaskRow)
		maxChunk := []int{1 << 10, 64 << 10, 1 << 30}[round%3]
		got, err := readStream(&chunkReader{data: data, rng: rng, max: maxChunk}, readTaskRow)
		if !bytes.Equal(data, orig) {
			t.Fatalf("round %d: the answer was changed", round)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("round %d: in segments %v, whole %v", round, err, werr)
		}
		if err == nil {
			if diff := cmp.Diff(got, whole); diff != "" {
				t.Fatalf("round %d: in segments (-got +whole):\n%s", round, diff)
			}
			// (The docker client may refuse what the readers skip.)
			if full, derr := docker[swarm.Task](data); derr == nil && len(full) != len(got) {
				t.Fatalf("round %d: docker %d %v, read %d", round, len(full), derr, len(got))
			}
		}
	}
	// A body that fails while it is read fails the read.
	failing := io.MultiReader(bytes.NewReader([]byte(`[{"ID":"a"},{"ID":"b"`)), iotest.ErrReader(errors.New("reset")))
	if _, err := readStream(failing, readTaskRow); err == nil || err.Error() != "reset" {
		t.Errorf("a failing body: %v", err)
	}
}

// TestNameTasks_SortsAsCompareTasks: the rows of many tasks are named and
// ordered as taskRows named and sorted them, gone services, services of
// equal names and a state filter included.
func TestNameTasks_SortsAsCompareTasks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 16))
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for round := range 20 {
		services := []serviceName{{"s1", "web"}, {"s2", "api"}, {"s3", "web"}, {"s4", ""}, {"s5", "s9"}}
		nodes := []swarm.Node{node("n1", "h1"), node("n2", "h0"), node("n3", "h1")}
		var rows []Task
		for i := range 50 + rng.IntN(400) {
			rows = append(rows, Task{
				ID: fmt.Sprintf("t%d", rng.IntN(1000)), ServiceID: []string{"s1", "s2", "s3", "s4", "s5", "s9", "gone", ""}[rng.IntN(8)],
				Slot: rng.IntN(4), Node: []string{"", "n1", "n2", "n3", "n4"}[rng.IntN(5)],
				State: []string{"running", "pending"}[rng.IntN(2)], CreatedAt: t0.Add(time.Duration(rng.IntN(3)) * time.Second), Message: fmt.Sprint(i),
			})
		}
		state := []string{"", "running"}[round%2]
		// What taskRows did before: a name for each row, then one sort.
		names := map[string]string{}
		for _, s := range services {
			names[s.ID] = s.Name
		}
		hosts := map[string]string{}
		for _, n := range nodes {
			hosts[n.ID] = n.Description.Hostname
		}
		var want []Task
		for _, r := range rows {
			if state != "" && r.State != state {
				continue
			}
			r.Service, r.NodeHostname = names[r.ServiceID], hosts[r.Node]
			if r.Service == "" {
				r.Service = r.ServiceID
			}
			want = append(want, r)
		}
		slices.SortStableFunc(want, CompareTasks)
		got := nameTasks(splitParts(slices.Clone(rows), rng), services, nodes, state)
		// Equal rows (same ID, service, slot, node and time) may come in
		// any order: compare what each place holds by CompareTasks first.
		if len(got) != len(want) {
			t.Fatalf("round %d: %d rows, want %d", round, len(got), len(want))
		}
		for i := range got {
			if CompareTasks(got[i], want[i]) != 0 {
				t.Fatalf("round %d: row %d is %+v, want %+v", round, i, got[i], want[i])
			}
		}
		if !slices.IsSortedFunc(got, CompareTasks) {
			t.Fatalf("round %d: not sorted", round)
		}
		byAll := func(a, b Task) int {
			if c := CompareTasks(a, b); c != 0 {
				return c
			}
			return strings.Compare(a.Message, b.Message)
		}
		slices.SortFunc(got, byAll)
		slices.SortFunc(want, byAll)
		if diff := cmp.Diff(got, want); diff != "" {
			t.Fatalf("round %d: rows (-got +want):\n%s", round, diff)
		}
	}
}

// compareNetworks checks the network reader of data against the docker
// client's decoding.
func compareNetworks(t *testing.T, data []byte) {
	t.Helper()
	compareRead(t, "network summaries", data, readNetworkSummary, summarizeNetwork, cmp.Comparer(timeEqual))
}

// compareRead: read reads from data what the docker client's decoding
// into T gives, as want keeps it.
func compareRead[T, S any](t *testing.T, what string, data []byte, read func(*jsonIn, *S), want func(T) S, opts ...cmp.Option) {
	t.Helper()
	full, derr := docker[T](data)
	var got []S
	err := readAll(data, func(r *jsonIn) {
		var v S
		read(r, &v)
		got = append(got, v)
	})
	if derr != nil {
		return // the readers may read what the docker client refuses
	}
	if err != nil {
		t.Fatalf("%s: %v, though the docker client reads them:\n%s", what, err, data)
	}
	wanted := make([]S, 0, len(full))
	for _, v := range full {
		wanted = append(wanted, want(v))
	}
	if diff := cmp.Diff(got, wanted, opts...); len(wanted) > 0 && diff != "" {
		t.Errorf("%s (-got +want):\n%s\n%s", what, diff, data)
	}
}

func TestListRead_Networks(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 16))
	for range 300 {
		nets := make([]network.Summary, 1+rng.IntN(3))
		for j := range nets {
			fill(rng, reflect.ValueOf(&nets[j]).Elem(), 6)
		}
		data, err := json.Marshal(nets)
		if err != nil {
			t.Fatal(err)
		}
		compareNetworks(t, data)
		if t.Failed() {
			return
		}
	}
	for _, s := range []string{
		`[]`, `null`, `[{}]`,
		`[{"Name":"bench-net-15","Id":"3f61","Created":"2026-11-30T10:08:41.829140734Z","Scope":"swarm","Driver":"overlay","EnableIPv6":false,
		  "IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"10.0.16.0/24","Gateway":"10.0.16.1"},{"Subnet":"fd00::/64"},null]},
		  "Internal":false,"Attachable":true,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":null,
		  "Options":{"com.docker.network.driver.overlay.vxlanid_list":"4112"},"Labels":{"com.docker.stack.namespace":"shop"}}]`,
		`[{"id":"x","name":"lower","ipam":{"config":null},"labels":null,"ingress":true,"created":"2026-01-01T00:00:00+01:00"}]`,
		`[{"ID":"y","Id":"z","IPAM":null,"Internal":null}]`,
	} {
		compareNetworks(t, []byte(s))
	}
	for _, s := range []string{`[{"Internal":"yes"}]`, `[{"IPAM":{"Config":[{"Subnet":1}]}}]`, `[{"Created":"never"}]`, `[{"Id":"x"`} {
		if err := readAll([]byte(s), func(r *jsonIn) { var n NetworkSummary; readNetworkSummary(r, &n) }); err == nil {
			t.Errorf("%s: read without error", s)
		}
	}
}

// nodeRead keeps of n what readNode reads.
func nodeRead(n swarm.Node) swarm.Node {
	var out swarm.Node
	out.ID = n.ID
	out.Spec.Role, out.Spec.Availability, out.Spec.Labels = n.Spec.Role, n.Spec.Availability, n.Spec.Labels
	out.Description.Hostname, out.Description.Engine.EngineVersion = n.Description.Hostname, n.Description.Engine.EngineVersion
	out.Description.Resources.NanoCPUs, out.Description.Resources.MemoryBytes = n.Description.Resources.NanoCPUs, n.Description.Resources.MemoryBytes
	out.Status.State, out.Status.Addr = n.Status.State, n.Status.Addr
	if m := n.ManagerStatus; m != nil {
		out.ManagerStatus = &swarm.ManagerStatus{Leader: m.Leader, Reachability: m.Reachability, Addr: m.Addr}
	}
	return out
}

// compareNodes: readNode reads what the docker client decodes, for the
// fields it reads.
func compareNodes(t *testing.T, data []byte) {
	t.Helper()
	compareRead(t, "nodes", data, readNode, nodeRead)
}

func TestListRead_Nodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 16))
	for range 300 {
		nodes := make([]swarm.Node, 1+rng.IntN(3))
		for j := range nodes {
			fill(rng, reflect.ValueOf(&nodes[j]).Elem(), 6)
		}
		data, err := json.Marshal(nodes)
		if err != nil {
			t.Fatal(err)
		}
		compareNodes(t, data)
		if t.Failed() {
			return
		}
	}
	for _, s := range []string{
		`[]`, `null`, `[{}]`,
		`[{"ID":"n1","Version":{"Index":9},"CreatedAt":"2026-11-30T10:00:00Z","Spec":{"Labels":{"zone":"a"},"Role":"manager","Availability":"active"},
		  "Description":{"Hostname":"m1","Platform":{"Architecture":"x86_64","OS":"linux"},"Resources":{"NanoCPUs":2000000000,"MemoryBytes":25165824000},
		  "Engine":{"EngineVersion":"20.10.24+dfsg1","Plugins":[{"Type":"Log","Name":"json-file"}]},"TLSInfo":{"TrustRoot":"x"}},
		  "Status":{"State":"ready","Addr":"0.0.0.0"},"ManagerStatus":{"Leader":true,"Reachability":"reachable","Addr":"198.18.0.11:2377"}}]`,
		`[{"id":"x","spec":{"role":"worker","labels":null},"status":{"state":"down"},"managerStatus":null}]`,
		`[{"ManagerStatus":{"Leader":true},"ManagerStatus":{"Addr":"a:1"}},{"ManagerStatus":{"Leader":true},"ManagerStatus":null}]`,
	} {
		compareNodes(t, []byte(s))
	}
	for _, s := range []string{`[{"ManagerStatus":{"Leader":"yes"}}]`, `[{"Description":{"Resources":{"NanoCPUs":"2"}}}]`, `[{"Spec":[]}]`, `[{"ID":"x"`} {
		if err := readAll([]byte(s), func(r *jsonIn) { var n swarm.Node; readNode(r, &n) }); err == nil {
			t.Errorf("%s: read without error", s)
		}
	}
}

// splitParts cuts rows into a few parts, as a list read in segments is.
func splitParts(rows []Task, rng *rand.Rand) [][]Task {
	var parts [][]Task
	for len(rows) > 0 {
		n := min(len(rows), 1+rng.IntN(100))
		parts = append(parts, rows[:n])
		rows = rows[n:]
	}
	return parts
}

// TestUTCTime_SameAsUnmarshalJSON: the fast path of times answers what
// time.Time's UnmarshalJSON does, or leaves the text to it.
func TestUTCTime_SameAsUnmarshalJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 16))
	texts := []string{
		"2026-11-30T10:08:16.143324487Z", "2026-11-30T10:08:16Z", "2026-11-30T10:08:16.1Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2000-02-29T12:00:00Z",
		"1900-02-29T12:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z",
		"2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z", "2026-01-01T00:00:00.Z",
		"2026-01-01T00:00:00.1234567891Z", "2026-01-01T00:00:00,5Z", "2026-01-01T00:00:00+01:00", "2026-01-01 00:00:00Z",
		"2026-1-01T00:00:00Z", "+026-01-01T00:00:00Z", "2026-01-01T00:00:00z", "2026-01-01T00:00:00.-1Z", "",
	}
	for range 2000 {
		tm := time.Unix(rng.Int64N(400e9)-62e9, rng.Int64N(1e9)).UTC()
		texts = append(texts, tm.Format(time.RFC3339Nano))
		b := []byte(tm.Format(time.RFC3339Nano))
		b[rng.IntN(len(b))] = "0123456789-:.TZ"[rng.IntN(15)]
		texts = append(texts, string(b))
	}
	for _, s := range texts {
		var want time.Time
		werr := want.UnmarshalJSON([]byte(`"` + s + `"`))
		got, ok := utcTime([]byte(s))
		if !ok {
			continue
		}
		if werr != nil || !got.Equal(want) || got.Location() != want.Location() || got != want {
			t.Errorf("%q: %v, UnmarshalJSON %v %v", s, got, want, werr)
		}
	}
}

// readItems reads data, a whole list answer, as readStream reads one.
func readItems[T any](data []byte, read func(r *jsonIn, item *T)) ([]T, error) {
	return readStream(bytes.NewReader(data), read)
}

// readStream reads a list answer from body with read, element by element.
func readStream[T any](body io.Reader, read func(r *jsonIn, item *T)) ([]T, error) {
	parts, err := readStreamParts(body, read)
	return concat(parts), err
}
