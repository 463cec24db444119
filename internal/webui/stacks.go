package webui

import (
	"cmp"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/swarm"
)

// stackRow is a stack as the services carry it: their
// com.docker.stack.namespace label.
type stackRow struct {
	Name             string
	Services         int
	Desired, Running uint64
}

type stackListPage struct {
	Base
	Rows []stackRow
}

// stackList says that stacks are not managed here yet, and lists the
// stacks the services name, each linking to its services.
func (u *UI) stackList(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Stacks", "stacks", cluster)
	if err != nil {
		return err
	}
	services, err := u.Fleet.ListServices(ctx(c), cluster, swarm.ServiceFilter{})
	if err != nil {
		return err
	}
	return u.tpl.render(c, fiber.StatusOK, "stacks_list", stackListPage{Base: b, Rows: stackRows(services)})
}

// stackRows groups services by their stack, sorted by name.
func stackRows(services []swarm.ServiceSummary) []stackRow {
	byName := map[string]*stackRow{}
	var rows []*stackRow
	for _, s := range services {
		if s.Stack == "" {
			continue
		}
		r := byName[s.Stack]
		if r == nil {
			r = &stackRow{Name: s.Stack}
			byName[s.Stack] = r
			rows = append(rows, r)
		}
		r.Services++
		r.Desired += s.Replicas.Desired
		r.Running += s.Replicas.Running
	}
	slices.SortFunc(rows, func(a, b *stackRow) int { return cmp.Compare(a.Name, b.Name) })
	out := make([]stackRow, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	return out
}
