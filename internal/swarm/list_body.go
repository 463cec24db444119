package swarm

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// A list read asks the engine through the docker client as every call
// does (the same request, version, filters, transport, metrics, timeout,
// redirect refusal and error mapping), but takes the answer's body for
// itself: the docker client's decoding into its full types cost more
// than anything else of a list (issue 16). The pooled clients' transport
// (listBodies, outermost) hands the body of a successful GET to the
// listBody the call's context carries and gives the docker client an
// empty list to decode instead; the caller then reads only the fields it
// shows (jsonIn).

type listBodyKey struct{}

// listBody is the answer body of one list call.
type listBody struct {
	path string        // the API path the call GETs, e.g. "/tasks"
	body io.ReadCloser // the 200 answer's body, once taken
}

// listBodies is the outermost layer of a pooled client's transport.
type listBodies struct{ next http.RoundTripper }

// withListBodies wraps rt so that list calls can take their answers'
// bodies.
func withListBodies(rt http.RoundTripper) http.RoundTripper { return listBodies{next: rt} }

func (l listBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || req.Method != http.MethodGet || resp.Body == nil {
		return resp, err
	}
	lb, ok := req.Context().Value(listBodyKey{}).(*listBody)
	if !ok || lb.body != nil || !strings.HasSuffix(req.URL.Path, lb.path) {
		return resp, err
	}
	lb.body = resp.Body
	resp.Body = io.NopCloser(strings.NewReader("[]"))
	resp.ContentLength = 2
	return resp, nil
}

// readList runs call (one docker client list call of path) and reads its
// answer with read, element by element. When no body was taken (the
// engine is no pooled client, e.g. a test's fake), it answers call's own
// result, each element converted by conv.
func readList[F, T any](ctx context.Context, path string, call func(ctx context.Context) ([]F, error),
	read func(r *jsonIn, item *T), conv func(F) T) ([]T, error) {
	var full []F
	parts, taken, err := readListParts(ctx, path, func(ctx context.Context) (err error) {
		full, err = call(ctx)
		return err
	}, nil, read)
	switch {
	case err != nil:
		return nil, err
	case taken:
		return concat(parts), nil
	}
	out := make([]T, 0, len(full))
	for _, v := range full {
		out = append(out, conv(v))
	}
	return out, nil
}

// readListParts runs call as readList does, calling answered (when set)
// once the call was answered (the engine made its answer) and before its
// body is read, and answers the items in parts, in turn; taken is false
// when no body was taken: then call's own result stands.
func readListParts[T any](ctx context.Context, path string, call func(ctx context.Context) error, answered func(), read func(r *jsonIn, item *T)) (parts [][]T, taken bool, err error) {
	lb := &listBody{path: path}
	err = call(context.WithValue(ctx, listBodyKey{}, lb))
	if lb.body != nil {
		defer lb.body.Close()
	}
	if err != nil {
		return nil, lb.body != nil, err
	}
	if answered != nil {
		answered()
	}
	if lb.body == nil {
		return nil, false, nil
	}
	parts, err = readStreamParts(lb.body, read)
	return parts, true, err
}

// An answer is read while it arrives: each time segmentSize more bytes
// came, the elements up to the last boundary between two (elemStart)
// are a segment, which a worker reads meanwhile; after the end, what
// remains is read as one or two more. Each segment is read from its
// start up to its end exactly (one that ends elsewhere is no segment:
// the pattern was inside a string or a nested value); the first starts
// at the answer's first element, so if every segment reads to its end,
// each starts at an element too and the whole reads as one read in turn
// would. Anything else (a segment that does not, an answer that is no
// array, a syntax error) reads the whole answer again in turn, which
// gives its items or its error.

// segmentSize is how much of an answer makes a segment.
const segmentSize = 256 << 10

// elemStart is where one element of a list answer ends and the next
// begins, as engines write them (compact, ID first).
var elemStart = []byte(`},{"ID":"`)

// segment is data[start:] (up to its closing bracket when last) of an
// answer, the elements of the segment number n.
type segment struct {
	n     int
	data  []byte
	start int
	last  bool
}

// readSegment reads the elements of s; ok is false unless they end
// exactly where s does.
func readSegment[T any](s segment, read func(r *jsonIn, item *T)) ([]T, bool) {
	r := &jsonIn{b: s.data, i: s.start, depth: 1}
	var items []T
	add := func() {
		items = append(items, *new(T))
		read(r, &items[len(items)-1])
		if len(items) == 1 {
			items = slices.Grow(items, estimateItems(len(s.data)-s.start, r.i-s.start))
		}
	}
	if s.last {
		r.first = true
		for r.elem() {
			add()
		}
		return items, r.err == nil
	}
	for {
		add()
		switch {
		case r.err != nil:
			return nil, false
		case r.i == len(r.b):
			return items, true
		case r.peek() != ',':
			return nil, false
		}
		r.i++
	}
}

// concat answers the items of parts in turn.
func concat[T any](parts [][]T) []T {
	if len(parts) == 1 {
		return parts[0]
	}
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	items := make([]T, 0, total)
	for _, p := range parts {
		items = append(items, p...)
	}
	return items
}

// readStreamParts reads a list answer from body with read, element by
// element, answering the items in parts, in turn.
func readStreamParts[T any](body io.Reader, read func(r *jsonIn, item *T)) ([][]T, error) {
	bp := getListBuffer()
	data := (*bp)[:0]
	var (
		segments = make(chan segment, 16)
		workers  int
		pending  sync.WaitGroup
		mu       sync.Mutex
		parts    [][]T // by segment
		failed   bool  // a segment did not read to its end
		next     = -1  // where the next segment starts, once known
	)
	defer func() {
		if workers > 0 {
			close(segments)
			pending.Wait()
		}
		*bp = data[:0]
		putListBuffer(bp)
	}()
	send := func(s segment) {
		if workers == 0 {
			workers = min(runtime.GOMAXPROCS(0), 2)
			for range workers {
				go func() {
					for s := range segments {
						items, ok := readSegment(s, read)
						mu.Lock()
						parts[s.n], failed = items, failed || !ok
						mu.Unlock()
						pending.Done()
					}
				}()
			}
		}
		mu.Lock()
		s.n = len(parts)
		parts = append(parts, nil)
		mu.Unlock()
		pending.Add(1)
		segments <- s
	}
	// cut sends the segments of data[next:] ending from segmentSize/2 on;
	// searched is how far data was looked through for their ends.
	searched := 0
	cut := func() {
		for next >= 0 && len(data)-next >= segmentSize {
			from := max(next+segmentSize/2, searched-len(elemStart)+1)
			k := bytes.LastIndex(data[from:], elemStart)
			if k < 0 {
				searched = len(data)
				return
			}
			end := from + k + 1
			send(segment{data: data[:end], start: next})
			next = end + 1
		}
	}
	for {
		if len(data) == cap(data) {
			data = slices.Grow(data, max(cap(data), 64<<10))
		}
		m, err := body.Read(data[len(data):cap(data)])
		data = data[:len(data)+m]
		if next == -1 {
			next = arrayStart(data)
		}
		cut()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	whole := func() ([][]T, error) {
		items, err := readElems(&jsonIn{b: data}, len(data), read)
		return [][]T{items}, err
	}
	if next < 0 { // no array, or not one of elements as engines write them
		return whole()
	}
	// The rest: in two segments when long enough for both workers.
	if len(data)-next >= segmentSize/2 && runtime.GOMAXPROCS(0) > 1 {
		mid := next + (len(data)-next)/2
		if k := bytes.Index(data[mid:], elemStart); k >= 0 {
			end := mid + k + 1
			send(segment{data: data[:end], start: next})
			next = end + 1
		}
	}
	if workers == 0 { // short: read here
		if items, ok := readSegment(segment{data: data, start: next, last: true}, read); ok {
			return [][]T{items}, nil
		}
		return whole()
	}
	send(segment{data: data, start: next, last: true})
	pending.Wait()
	if failed {
		return whole()
	}
	return parts, nil
}

// arrayStart answers where the first element of the array data starts
// with begins: -1 while data holds nothing but white space, -2 when it
// begins with no array or no element as engines write them.
func arrayStart(data []byte) int {
	r := &jsonIn{b: data}
	switch r.peek() {
	case 0:
		return -1
	case '[':
		i := r.i + 1
		r.i = i
		switch r.peek() {
		case 0:
			if len(data)-i < 64 {
				return -1 // not yet known
			}
		case '{':
			return i
		}
	}
	return -2
}

// readElems reads the array (null: none) r holds with read, making room
// for as many items as the answer (of total bytes) holds if all are as
// long as the first.
func readElems[T any](r *jsonIn, total int, read func(r *jsonIn, item *T)) ([]T, error) {
	if r.peek() == 0 {
		return nil, errJSONEnd
	}
	var items []T
	if r.arr() {
		start := r.i
		for r.elem() {
			items = append(items, *new(T))
			read(r, &items[len(items)-1])
			if len(items) == 1 {
				items = slices.Grow(items, estimateItems(total, r.i-start))
			}
		}
	}
	return items, r.err
}

// estimateItems answers how many more items of size bytes an answer of
// total bytes holds, with an eighth more for longer ones; items are
// taken to be at least minItemSize long, which every engine object is,
// so that no answer makes room for many more items than it can hold.
func estimateItems(total, size int) int {
	n := total / max(size, minItemSize)
	return n + n/8
}

const minItemSize = 128

// listBuffers hold answers while they are read; a buffer larger than
// maxKeptBuffer is left to the garbage collector.
var listBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxKeptBuffer = 32 << 20

func getListBuffer() *[]byte { return listBuffers.Get().(*[]byte) }

func putListBuffer(b *[]byte) {
	if cap(*b) > maxKeptBuffer {
		return
	}
	listBuffers.Put(b)
}
