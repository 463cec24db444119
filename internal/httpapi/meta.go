package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/version"
)

type statusDTO struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

type versionDTO struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Store    string `json:"store"`
	API      string `json:"api"`
	Instance string `json:"instance"`
}

// list is the contract's shape of every list answer. Without ?limit= it
// holds every item; with it (see paging.go), one page of them.
type list[T any] struct {
	Items []T `json:"items" openapi:"notnull"` // never null: an empty list is []
	// Total counts every item that matches the request's filters, not
	// only the page's.
	Total int `json:"total"`
	// NextCursor, while items remain after this page, is the ?cursor=
	// that answers the next page; omitted on the last.
	NextCursor string `json:"next_cursor,omitempty"`
	// Stale is set when the items come from this instance's snapshot
	// because the swarm has no leader.
	Stale *staleDTO `json:"stale,omitempty"`
}

// staleDTO says since when, and why, a list is a snapshot.
type staleDTO struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"` // electing or no_quorum
}

// listAt is listOf marked stale when the request's reads were answered
// from snapshots (see freshness).
func listAt[T any](c *fiber.Ctx, items []T) list[T] {
	l := listOf(items)
	if fr, ok := c.Locals(freshnessLocal).(*swarm.Freshness); ok {
		if since, reason, stale := fr.Stale(); stale {
			l.Stale = &staleDTO{Since: since, Reason: reason}
		}
	}
	return l
}

func listOf[T any](items []T) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, Total: len(items)}
}

func (a *API) healthz(c *fiber.Ctx) error {
	return c.JSON(statusDTO{Status: "ok"})
}

func (a *API) readyz(c *fiber.Ctx) error {
	if err := a.ready(c.UserContext()); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(statusDTO{Status: "unavailable", Reason: publicText(err)})
	}
	return c.JSON(statusDTO{Status: "ok"})
}

func (a *API) version(c *fiber.Ctx) error {
	return c.JSON(versionDTO{Version: a.Version, Commit: a.Commit, Store: a.StoreKind, API: version.API, Instance: a.Instance})
}

func (a *API) metrics(c *fiber.Ctx) error {
	return adaptor.HTTPHandler(promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{}))(c)
}

// listFilter reads ?q=substring and ?label=k=v (repeatable).
func listFilter(c *fiber.Ctx) (swarm.Filter, error) {
	var raw []string
	for _, b := range c.Context().QueryArgs().PeekMulti("label") {
		raw = append(raw, string(b))
	}
	labels, err := swarm.ParseLabelFilters(raw)
	if err != nil {
		return swarm.Filter{}, err
	}
	return swarm.Filter{Q: c.Query("q"), Labels: labels}, nil
}

// waitOf parses the wait of a change to services or stacks: the body's,
// else ?wait=.
func waitOf(c *fiber.Ctx, body string) (time.Duration, error) {
	if body == "" {
		body = c.Query("wait")
	}
	return swarm.ParseWait(body)
}
