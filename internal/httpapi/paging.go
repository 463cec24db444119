package httpapi

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/jsonw"
	"github.com/swarmops/swarmops/internal/swarm"
)

// Paging of lists. ?limit=N answers at most N items and, while more
// remain, "next_cursor"; ?cursor= given that text answers the items after
// the last one answered. A cursor holds the sort key of that last item,
// not an offset, so items created or removed between two requests make
// a page neither skip nor repeat the items that stay. The engine has no
// paging: a page is cut from the same single list read as the whole
// list, so it costs the engine no more than the whole list does.

// maxLimit is the most items one page may hold.
const maxLimit = 1000

// maxCursor bounds the length of a cursor's text: far above any real
// key (names are at most 64 characters, IDs 25).
const maxCursor = 1024

// order is a list's total order, which paging needs well defined: key
// answers an item's sort key, whose parts compare in turn as strings,
// descending where desc says so (one flag per part; none: all ascending).
// The whole key is unique within a list. name ties a cursor to its list.
type order[T any] struct {
	name string
	key  func(T) []string
	desc []bool
	// cmp, when set, compares two items as their keys compare, without
	// making their keys (TestOrders_CompareAsKeys checks it): a list the
	// domain answers in this order is then paged without sorting it again.
	cmp func(a, b T) int
	// write, when set, appends an item as encoding/json writes it; send
	// then writes the answer without encoding/json's reflection.
	write func(*T, []byte) ([]byte, error)
}

// compare orders two keys of o.
func (o order[T]) compare(a, b []string) int {
	for i := range min(len(a), len(b)) {
		c := strings.Compare(a[i], b[i])
		if i < len(o.desc) && o.desc[i] {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// paging is what a request asks of a list ordered by o: at most limit
// items (0: every one) after the item whose key is after (nil: from the
// first).
type paging[T any] struct {
	o     order[T]
	limit int
	after []string
}

// pagingOf reads ?limit= and ?cursor= for a list ordered by o, before
// the list is read: a bad value answers 400 naming the field and nothing
// else happens. A cursor without limit answers every item after it.
func pagingOf[T any](c *fiber.Ctx, o order[T]) (paging[T], error) {
	p := paging[T]{o: o}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil || n < 1 || n > maxLimit {
			return p, errs.Invalid("limit", "expected a whole number from 1 to %d (the most items a page holds)", maxLimit)
		}
		p.limit = int(n)
	}
	if s := c.Query("cursor"); s != "" {
		after, err := decodeCursor(o, s)
		if err != nil {
			return p, errs.Invalid("cursor", "expected the next_cursor of an earlier page of this list, unchanged")
		}
		p.after = after
	}
	return p, nil
}

// list answers the page of items p asks for, marked stale as listAt
// does. Total counts every item (after filters), not only the page's.
// Items are sorted by p's order first, so that the order is total even
// where the domain's leaves ties (networks share names) and the page
// follows the cursor's order whatever the domain's. The order's cmp, when
// it has one, saves making every item's key: items already in order (as
// the domain answers them) are then not sorted at all, and only the keys
// of a few items are made to find the cursor's place and the next one.
func (p paging[T]) list(c *fiber.Ctx, items []T) list[T] {
	byOrder := p.o.cmp
	if byOrder == nil { // the short lists: compare their keys
		byOrder = func(a, b T) int { return p.o.compare(p.o.key(a), p.o.key(b)) }
	}
	sorted := items
	if !slices.IsSortedFunc(items, byOrder) {
		sorted = slices.Clone(items)
		slices.SortStableFunc(sorted, byOrder)
	}
	start := 0
	if p.after != nil {
		// The first item above after: equal counts as below.
		start = sort.Search(len(sorted), func(i int) bool { return p.o.compare(p.o.key(sorted[i]), p.after) > 0 })
	}
	end, next := len(sorted), ""
	if p.limit > 0 && start+p.limit < len(sorted) {
		end = start + p.limit
		next = encodeCursor(p.o, p.o.key(sorted[end-1]))
	}
	l := listAt(c, sorted[start:end:end]) // never nil items (listOf)
	l.Total, l.NextCursor = len(items), next
	return l
}

// send answers the page of items p asks for (list): written by the
// order's write when it has one, byte for byte as c.JSON writes it.
func (p paging[T]) send(c *fiber.Ctx, items []T) error {
	l := p.list(c, items)
	if p.o.write == nil {
		return c.JSON(l)
	}
	return sendList(c, l, p.o.write)
}

// sendList writes l as c.JSON(l) would, each item by write, in chunks
// appended to the answer's pooled body buffer.
func sendList[T any](c *fiber.Ctx, l list[T], write func(*T, []byte) ([]byte, error)) error {
	bp := listChunks.Get().(*[]byte)
	defer listChunks.Put(bp)
	resp := c.Response()
	resp.ResetBody()
	b := append((*bp)[:0], `{"items":`...)
	// Items are never nil (listOf). A long list's second half is written
	// meanwhile by another goroutine, into a buffer of its own.
	items, rest := l.Items, []T(nil)
	if len(items) >= halvesFrom && runtime.GOMAXPROCS(0) > 1 {
		items, rest = items[:len(items)/2], items[len(items)/2:]
	}
	var second halfWritten
	done := make(chan struct{})
	if len(rest) > 0 {
		go func() {
			defer close(done)
			second = writeItems(rest, write)
		}()
	} else {
		close(done)
	}
	b = append(b, '[')
	var err error
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = write(&items[i], b); err != nil {
			break
		}
		if len(b) >= listChunk {
			resp.AppendBody(b)
			b = b[:0]
		}
	}
	<-done
	if second.buf != nil {
		defer listHalves.Put(second.buf)
	}
	if err == nil {
		err = second.err
	}
	if err != nil {
		resp.ResetBody()
		return err
	}
	if len(rest) > 0 {
		resp.AppendBody(b)
		resp.AppendBody(*second.buf)
		b = b[:0]
	}
	b = append(b, ']')
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(l.Total), 10)
	if l.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = jsonw.String(b, l.NextCursor)
	}
	if l.Stale != nil {
		stale, err := json.Marshal(l.Stale)
		if err != nil {
			resp.ResetBody()
			return err
		}
		b = append(append(b, `,"stale":`...), stale...)
	}
	b = append(b, '}')
	resp.AppendBody(b)
	*bp = b[:0]
	resp.Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

// halvesFrom is the length from which a list's second half is written
// by a goroutine of its own.
const halvesFrom = 2000

// halfWritten is the second half of a list written by writeItems, in a
// buffer of listHalves.
type halfWritten struct {
	buf *[]byte
	err error
}

// writeItems writes items, each after a comma.
func writeItems[T any](items []T, write func(*T, []byte) ([]byte, error)) (h halfWritten) {
	h.buf = listHalves.Get().(*[]byte)
	b := (*h.buf)[:0]
	for i := range items {
		b = append(b, ',')
		if b, h.err = write(&items[i], b); h.err != nil {
			break
		}
	}
	*h.buf = b
	return h
}

var listHalves = sync.Pool{New: func() any { return new([]byte) }}

// listChunk is how much of an answer is written before it is appended to
// the body; listChunks are the buffers it is written in.
const listChunk = 32 << 10

var listChunks = sync.Pool{New: func() any {
	b := make([]byte, 0, listChunk+4<<10)
	return &b
}}

// encodeCursor answers the cursor of key in o: base64url (unpadded) of a
// JSON array of the list's name and the key's parts.
func encodeCursor[T any](o order[T], key []string) string {
	b, err := json.Marshal(append([]string{o.name}, key...))
	if err != nil { // strings always marshal
		panic(fmt.Sprintf("paging: encode cursor: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor answers the key a cursor of o holds; an error when s is
// not such a cursor (another list's, or altered).
func decodeCursor[T any](o order[T], s string) ([]string, error) {
	if len(s) > maxCursor {
		return nil, fmt.Errorf("cursor longer than %d characters", maxCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var parts []string
	if err := json.Unmarshal(b, &parts); err != nil {
		return nil, err
	}
	var zero T // every key of o has as many parts as the zero item's
	if len(parts) != 1+len(o.key(zero)) || parts[0] != o.name {
		return nil, fmt.Errorf("not a cursor of the %s list", o.name)
	}
	return parts[1:], nil
}

// sortableInt answers n (not negative) as a string that sorts as n does.
func sortableInt(n int) string { return fmt.Sprintf("%020d", n) }

// sortableTime answers t as a string that sorts as t does (years 0-9999).
func sortableTime(t time.Time) string { return t.UTC().Format("20060102150405.000000000") }

// The orders of the paged lists: each is the order its domain call
// answers in, with an ID last where names may repeat.
var (
	clustersOrder = order[clusterDTO]{name: "clusters", key: func(c clusterDTO) []string { return []string{c.Name} },
		cmp: func(a, b clusterDTO) int { return strings.Compare(a.Name, b.Name) }, write: (*clusterDTO).AppendJSON}
	servicesOrder = order[serviceSummaryDTO]{name: "services", key: func(s serviceSummaryDTO) []string { return []string{s.Name, s.ID} },
		cmp: swarm.CompareServices, write: (*serviceSummaryDTO).AppendJSON}
	// tasksOrder is docker service ps's: by service, slot and node, the
	// newest first (swarm.CompareTasks, the domain's).
	tasksOrder = order[taskDTO]{name: "tasks", key: taskKey, desc: taskDesc, cmp: compareTasks, write: (*taskDTO).AppendJSON}
	nodesOrder = order[nodeDTO]{name: "nodes", key: func(n nodeDTO) []string { return []string{n.Hostname, n.ID} },
		cmp: swarm.CompareNodes, write: (*nodeDTO).AppendJSON}
	networksOrder = order[networkDTO]{name: "networks", key: func(n networkDTO) []string { return []string{n.Name, n.ID} },
		cmp: swarm.CompareNetworks, write: (*networkDTO).AppendJSON}
	secretsOrder = order[secretDTO]{name: "secrets", key: func(s secretDTO) []string { return []string{s.Name, s.ID} }}
	configsOrder = order[configDTO]{name: "configs", key: func(s configDTO) []string { return []string{s.Name, s.ID} }}
	stacksOrder  = order[stackSummaryDTO]{name: "stacks", key: func(s stackSummaryDTO) []string { return []string{s.Name} }}
	// revisionsOrder is newest first.
	revisionsOrder = order[stackRevisionDTO]{name: "revisions", key: func(r stackRevisionDTO) []string {
		return []string{sortableInt(r.Revision)}
	}, desc: []bool{true}}
	usersOrder      = order[userDTO]{name: "users", key: func(u userDTO) []string { return []string{u.Username} }}
	tokensOrder     = order[tokenDTO]{name: "tokens", key: func(t tokenDTO) []string { return []string{t.Name} }}
	registriesOrder = order[registryDTO]{name: "registries", key: func(r registryDTO) []string { return []string{r.Name} }}
)

func taskKey(t taskDTO) []string {
	return []string{t.Service, sortableInt(t.Slot), t.NodeHostname, sortableTime(t.CreatedAt), t.ID}
}

var taskDesc = []bool{false, false, false, true, false}

// compareTasks is the domain's order of tasks, which their keys have but
// for slots below 0 and times beyond the years 0-9999 (the engine sends
// neither): then it compares their keys.
func compareTasks(a, b taskDTO) int {
	if a.Slot < 0 || b.Slot < 0 || !keyYear(a.CreatedAt) || !keyYear(b.CreatedAt) {
		return order[taskDTO]{desc: taskDesc}.compare(taskKey(a), taskKey(b))
	}
	return swarm.CompareTasks(a, b)
}

// keyYear reports whether sortableTime sorts t as t sorts.
func keyYear(t time.Time) bool {
	y := t.UTC().Year()
	return 0 <= y && y <= 9999
}
