package webui

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	sw "github.com/swarmops/swarmops/internal/swarm"
)

// Search across every swarm at once: one section per cluster, under its
// banner. A browser that runs app.js asks with js=1: clusters that have
// not answered within searchWait then show "loading…" regions, which
// app.js fills by asking for each cluster alone (?cluster=). Without
// JavaScript the page waits for every cluster's answer or error.

const (
	// searchWait is how long a page with JavaScript waits for live
	// answers before it shows what it has.
	searchWait = 1500 * time.Millisecond
	// searchLimit bounds the matches shown per kind and cluster; the
	// rest are a link to the list page.
	searchLimit = 10
)

type searchPage struct {
	Base
	Q string
	// Only is the one cluster searched ("" for all).
	Only string
	// Hint is why nothing was searched ("" when something was).
	Hint   string
	Groups []searchGroup
}

// searchGroup is one cluster's section of the page.
type searchGroup struct {
	sw.ClusterSearch
	Ref ClusterRef
	Q   string
	// FillURL answers this cluster's section alone, waiting for it.
	FillURL string
}

// Path answers a path inside the group's cluster.
func (g searchGroup) Path(rest string) string { return "/c/" + url.PathEscape(g.Cluster.Name) + rest }

// Filtered answers a list page of the cluster filtered by the query.
func (g searchGroup) Filtered(list string) string {
	return g.Path("/"+list) + "?q=" + url.QueryEscape(g.Q)
}

// search is the search page: a hint for a query too short, else every
// cluster's matches.
func (u *UI) search(c *fiber.Ctx) error {
	b, err := u.base(c, "Search", "search", "")
	if err != nil {
		return err
	}
	p := searchPage{Base: b, Q: strings.TrimSpace(c.Query("q")), Only: c.Query("cluster")}
	p.SearchQ = p.Q
	if p.Q != "" {
		p.Title = "Search “" + p.Q + "”"
	}
	switch n := len([]rune(p.Q)); {
	case n == 0:
		p.Hint = "Type part of a name: services, nodes, stacks, networks, secrets and configs are searched in every swarm at once."
	case n < sw.MinSearch:
		p.Hint = "Type at least two characters to search."
	}
	if p.Hint != "" {
		return u.tpl.render(c, fiber.StatusOK, "search", p)
	}
	opt := sw.SearchOptions{Cluster: p.Only, Limit: searchLimit}
	if c.Query("js") == "1" && p.Only == "" {
		opt.Wait = searchWait
	}
	res, err := u.Fleet.Search(ctx(c), p.Q, opt)
	if err != nil {
		return err
	}
	for _, r := range res {
		g := searchGroup{ClusterSearch: r, Ref: clusterRef(r.Cluster.Name, r.Cluster.Labels), Q: p.Q,
			FillURL: "/search?q=" + url.QueryEscape(p.Q) + "&cluster=" + url.QueryEscape(r.Cluster.Name)}
		p.Groups = append(p.Groups, g)
	}
	return u.tpl.render(c, fiber.StatusOK, "search", p)
}
