package swarm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Search across swarms: services, nodes, stacks, networks, secrets and
// configs whose name contains a query, in every registered cluster at
// once. A cluster answers from what this instance already holds (the
// snapshots its list reads keep, snapshot.go) when that is current;
// otherwise its five list reads run live, concurrently. A caller that
// cannot wait long (a page) gets, for a cluster that is slow to answer,
// what the instance held from an earlier read, or "pending" when it holds
// nothing, and asks again for that cluster alone: the live reads go on
// meanwhile, keep their answers as snapshots, and the second search joins
// them instead of reading again.

const (
	// MinSearch is the shortest query searched, in characters.
	MinSearch = 2
	// searchCurrent is how young held answers must be to be answered as
	// they are, without asking the engine.
	searchCurrent = 10 * time.Second
	// searchParallel bounds the clusters one search reads at once.
	searchParallel = 8
	// searchReads bounds a cluster's live reads, in engine timeouts: each
	// read tries the managers in turn.
	searchReads = 2
)

// Where a cluster's matches come from.
const (
	// SearchLive: read from the engine for this search.
	SearchLive = "live"
	// SearchHeld: what this instance held from an earlier read (At says
	// when): current ones, or older ones while the live answer is on its
	// way, failed, or cannot be had (the swarm has no leader).
	SearchHeld = "held"
	// SearchPending: the instance holds nothing and the live answer had
	// not come within the wait; ask again for the cluster alone.
	SearchPending = "pending"
	// SearchFailed: the live answer failed and nothing is held; Problem
	// says why.
	SearchFailed = "failed"
)

// SearchOptions tune a search.
type SearchOptions struct {
	// Cluster searches that cluster only ("": every registered one).
	Cluster string
	// Limit bounds the matches answered per kind (Total counts them
	// all); 0 answers all.
	Limit int
	// Wait bounds how long the live answers are waited for, from the
	// start of the search: a cluster holding older answers answers them
	// at once (Pending set), one holding none answers SearchPending when
	// Wait has passed. 0 waits for every live answer (each bounded by
	// the engine timeouts), for a caller that cannot ask again.
	Wait time.Duration
}

// Matches are the matches of one kind: the first Limit, and how many
// there are.
type Matches[T any] struct {
	Items []T
	Total int
}

// More is how many matches were left out.
func (m Matches[T]) More() int { return m.Total - len(m.Items) }

// ClusterSearch is one cluster's answer to a search.
type ClusterSearch struct {
	Cluster ClusterView
	// Source is SearchLive, SearchHeld, SearchPending or SearchFailed.
	Source string
	// At is when the matches were read from the engine (zero when there
	// are none to show).
	At time.Time
	// Pending is set when a live answer is still on its way: ask again
	// for this cluster.
	Pending bool
	// Election is Electing or NoQuorum while the swarm has no leader
	// (what is shown is then held).
	Election string
	// Problem says in words why the live answer failed ("" when it did
	// not); Err is that error.
	Problem string
	Err     error

	Services Matches[ServiceSummary]
	Nodes    Matches[NodeSummary]
	Stacks   Matches[StackSummary]
	Networks Matches[NetworkSummary]
	Secrets  Matches[SecretSummary]
	Configs  Matches[ConfigSummary]
}

// Found counts the cluster's matches of every kind.
func (r ClusterSearch) Found() int {
	return r.Services.Total + r.Nodes.Total + r.Stacks.Total + r.Networks.Total + r.Secrets.Total + r.Configs.Total
}

// Shown reports whether the answer has matches to show (live or held).
func (r ClusterSearch) Shown() bool { return r.Source == SearchLive || r.Source == SearchHeld }

// Search finds, in every registered cluster (or opt.Cluster), the
// services, nodes (by hostname), stacks, networks, secrets and configs
// whose name contains q, without regard to case, sorted by name and
// grouped by cluster in the clusters' order. A cluster that fails says so
// in its answer; the search fails only when the clusters cannot be listed
// (or opt.Cluster is not registered).
func (f *Fleet) Search(ctx context.Context, q string, opt SearchOptions) ([]ClusterSearch, error) {
	q = strings.TrimSpace(q)
	if len([]rune(q)) < MinSearch {
		return nil, errs.Invalid("q", "type at least %d characters to search", MinSearch)
	}
	var all []store.Cluster
	if opt.Cluster != "" {
		c, err := f.cluster(ctx, opt.Cluster)
		if err != nil {
			return nil, err
		}
		all = []store.Cluster{c}
	} else {
		var err error
		if all, err = f.store.ListClusters(ctx); err != nil {
			return nil, fmt.Errorf("search: list clusters: %w", err)
		}
	}
	def, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	// stop closes when the wait is over (or the caller went away): every
	// cluster not answered by then answers what it holds.
	stop, finished := make(chan struct{}), make(chan struct{})
	defer close(finished)
	var deadline <-chan time.Time
	if opt.Wait > 0 {
		t := time.NewTimer(opt.Wait)
		defer t.Stop()
		deadline = t.C
	}
	go func() {
		select {
		case <-deadline:
		case <-ctx.Done():
		case <-finished:
			return
		}
		close(stop)
	}()
	m := matcher{q: strings.ToLower(q), limit: opt.Limit}
	out := make([]ClusterSearch, len(all))
	slots := make(chan struct{}, searchParallel)
	var wg sync.WaitGroup
	for i, c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = f.searchCluster(ctx, c, viewOf(c, c.Name == def), m, opt.Wait > 0, slots, stop)
		}()
	}
	wg.Wait()
	return out, nil
}

// searchCluster answers one cluster: current held answers at once, else
// the live ones, or, once stop closes, what is held (or pending). hurried
// callers get older held answers at once.
func (f *Fleet) searchCluster(ctx context.Context, c store.Cluster, view ClusterView, m matcher, hurried bool, slots chan struct{}, stop <-chan struct{}) ClusterSearch {
	out := ClusterSearch{Cluster: view}
	if e, ok := f.ElectionOf(c.Name); ok {
		out.Election = e.Status
	}
	held, isHeld := f.heldLists(c.Name)
	if isHeld && (f.now().Sub(held.at) < searchCurrent || out.Election != "") {
		// Current, or all there is to have while the swarm has no leader.
		out.Source, out.At = SearchHeld, held.at
		m.fill(&out, held)
		return out
	}
	answerHeld := func() ClusterSearch {
		out.Pending = true
		if isHeld {
			out.Source, out.At = SearchHeld, held.at
			m.fill(&out, held)
		} else {
			out.Source = SearchPending
		}
		return out
	}
	if isHeld && hurried {
		// Older answers, shown at once; the live reads start for the
		// caller to ask again.
		f.searchFlight(ctx, c)
		return answerHeld()
	}
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-stop:
		return answerHeld()
	}
	fl := f.searchFlight(ctx, c)
	select {
	case <-fl.done:
	case <-stop:
		return answerHeld()
	}
	r := fl.res
	if _, ok := errs.Public(r.err); r.err != nil && !ok {
		zerolog.Ctx(ctx).Warn().Err(r.err).Str("cluster", c.Name).Msg("search could not read the cluster")
	}
	switch {
	case r.err == nil:
		out.Source, out.At = SearchLive, r.lists.at
		if r.election != "" {
			out.Source, out.Election = SearchHeld, r.election
		}
		m.fill(&out, r.lists)
	case isHeld:
		out.Source, out.At, out.Err, out.Problem = SearchHeld, held.at, r.err, searchProblem(r.err)
		m.fill(&out, held)
	default:
		out.Source, out.Err, out.Problem = SearchFailed, r.err, searchProblem(r.err)
	}
	if e, ok := f.ElectionOf(c.Name); ok && out.Election == "" {
		out.Election = e.Status
	}
	return out
}

// searchLists are a cluster's five lists, as a search reads them; at is
// when the oldest was read from the engine.
type searchLists struct {
	services []ServiceSummary
	nodes    []NodeSummary
	networks []NetworkSummary
	secrets  []SecretSummary
	configs  []ConfigSummary
	at       time.Time
}

// The snapshot keys of the unfiltered list reads (ListServices,
// ListNodes, ListNetworks, ListSecrets and ListConfigs keep theirs under
// these): what a search finds held.
var (
	heldServicesKey = "services?stack="
	heldNodesKey    = "nodes?" + fmt.Sprint(Filter{})
)

// heldLists answers the cluster's five lists from this instance's
// snapshots, without any engine call; ok is false unless all five are
// held.
func (f *Fleet) heldLists(cluster string) (l searchLists, ok bool) {
	get := func(key string) (any, bool) {
		s, ok := f.snaps.get(cluster + "\x00" + key)
		if !ok {
			return nil, false
		}
		if l.at.IsZero() || s.at.Before(l.at) {
			l.at = s.at
		}
		return s.v, true
	}
	v, ok := get(heldServicesKey)
	services, ok2 := v.([]ServiceSummary)
	if !ok || !ok2 {
		return l, false
	}
	v, ok = get(heldNodesKey)
	nodes, ok2 := v.([]NodeSummary)
	if !ok || !ok2 {
		return l, false
	}
	v, ok = get("networks")
	networks, ok2 := v.([]NetworkSummary)
	if !ok || !ok2 {
		return l, false
	}
	v, ok = get("secrets")
	secrets, ok2 := v.([]swarm.Secret)
	if !ok || !ok2 {
		return l, false
	}
	v, ok = get("configs")
	configs, ok2 := v.([]swarm.Config)
	if !ok || !ok2 {
		return l, false
	}
	l.services = services // the snapshots of ListServices and ListNetworks hold summaries
	l.nodes = nodes
	l.networks = networks
	l.secrets = make([]SecretSummary, len(secrets))
	for i, s := range secrets {
		l.secrets[i] = summarizeSecret(s)
	}
	l.configs = make([]ConfigSummary, len(configs))
	for i, cf := range configs {
		l.configs[i] = summarizeConfig(cf)
	}
	return l, true
}

// searchResult is what a cluster's live reads answered.
type searchResult struct {
	lists searchLists
	// election is set when the reads answered from snapshots because the
	// swarm has no leader.
	election string
	err      error
}

// searchFlight is one cluster's live reads, which every search of the
// cluster on this instance joins while they run.
type searchFlight struct {
	done chan struct{}
	res  searchResult
}

// searchFlights are the live reads under way, by cluster registration
// (its name and what registration says of it).
type searchFlights struct {
	sync.Mutex
	by map[string]*searchFlight
}

// searchFlight joins the cluster's live reads under way, or starts them.
// They outlive ctx (bounded by searchReads engine timeouts), so that a
// search asking again finds them done, or their answers held.
func (f *Fleet) searchFlight(ctx context.Context, c store.Cluster) *searchFlight {
	key := c.Name + "|" + registration(c)
	f.searches.Lock()
	defer f.searches.Unlock()
	if fl := f.searches.by[key]; fl != nil {
		return fl
	}
	if f.searches.by == nil {
		f.searches.by = map[string]*searchFlight{}
	}
	fl := &searchFlight{done: make(chan struct{})}
	f.searches.by[key] = fl
	go func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), searchReads*f.timeout)
		defer cancel()
		fl.res = f.liveLists(rctx, c.Name)
		f.searches.Lock()
		delete(f.searches.by, key)
		f.searches.Unlock()
		close(fl.done)
	}()
	return fl
}

// liveLists reads the cluster's five lists at once, as the list pages
// read them (so each keeps its snapshot).
func (f *Fleet) liveLists(ctx context.Context, cluster string) (r searchResult) {
	ctx, fr := WithFreshness(ctx)
	var wg sync.WaitGroup
	errs5 := make([]error, 5)
	read := func(i int, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs5[i] = fn()
		}()
	}
	l := &r.lists
	read(0, func() (err error) { l.services, err = f.ListServices(ctx, cluster, ServiceFilter{}); return err })
	read(1, func() (err error) { l.nodes, err = f.ListNodes(ctx, cluster, Filter{}); return err })
	read(2, func() (err error) { l.networks, err = f.ListNetworks(ctx, cluster, Filter{}); return err })
	read(3, func() (err error) { l.secrets, err = f.ListSecrets(ctx, cluster, Filter{}); return err })
	read(4, func() (err error) { l.configs, err = f.ListConfigs(ctx, cluster, Filter{}); return err })
	wg.Wait()
	l.at = f.now()
	for _, err := range errs5 {
		if err != nil {
			r.err = err
			break
		}
	}
	if r.err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.err = errs.Unavailable(r.err, "cluster %q did not answer within %s", cluster, searchReads*f.timeout)
	}
	if since, reason, stale := fr.Stale(); stale && r.err == nil {
		l.at, r.election = since, reason
	}
	return r
}

// matcher selects and bounds the matches of a query (lower case).
type matcher struct {
	q     string
	limit int
}

func (m matcher) match(name string) bool { return strings.Contains(strings.ToLower(name), m.q) }

// fill sets out's matches from the cluster's lists.
func (m matcher) fill(out *ClusterSearch, l searchLists) {
	out.Services = matchesOf(m, l.services, func(s ServiceSummary) string { return s.Name })
	out.Nodes = matchesOf(m, l.nodes, func(n NodeSummary) string { return n.Hostname })
	out.Stacks = matchesOf(m, StacksOf(l.services), func(s StackSummary) string { return s.Name })
	out.Networks = matchesOf(m, l.networks, func(n NetworkSummary) string { return n.Name })
	out.Secrets = matchesOf(m, l.secrets, func(s SecretSummary) string { return s.Name })
	out.Configs = matchesOf(m, l.configs, func(c ConfigSummary) string { return c.Name })
}

// matchesOf answers the items whose name matches, sorted by name, the
// first m.limit of them.
func matchesOf[T any](m matcher, items []T, name func(T) string) Matches[T] {
	var out Matches[T]
	for _, it := range items {
		if m.match(name(it)) {
			out.Items = append(out.Items, it)
		}
	}
	slices.SortStableFunc(out.Items, func(a, b T) int { return cmp.Compare(name(a), name(b)) })
	out.Total = len(out.Items)
	if m.limit > 0 && len(out.Items) > m.limit {
		out.Items = out.Items[:m.limit:m.limit]
	}
	return out
}

// searchProblem says why a cluster's live answer failed, in words meant
// for users: an error of ours says it; anything else (a store or network
// failure inside) is not shown as it is.
func searchProblem(err error) string {
	if pe, ok := errs.Public(err); ok {
		return pe.Message
	}
	return "the cluster could not be read (the instance's log says why)"
}
