package webui

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/swarm"
)

// Stacks: the list with each stack's convergence, the deploy form (also
// the update form, filled from the stack's latest revision), a stack's
// page (convergence, services, tasks, objects, merged logs, revisions),
// the diff of two revisions, and rollback and removal.

type stackListPage struct {
	Base
	Rows []stackRow
}

// stackList lists the stacks (those the docker CLI deployed too) with
// their tasks and convergence.
func (u *UI) stackList(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Stacks", "stacks", cluster)
	if err != nil {
		return err
	}
	states, err := u.Fleet.ListStackStates(ctx(c), cluster)
	if err != nil {
		return err
	}
	return u.tpl.render(c, fiber.StatusOK, "stacks_list", stackListPage{Base: b, Rows: stackRows(states)})
}

// stackNew is the deploy form; ?name= fills it from that stack's latest
// revision (its compose file, env and plain files; never a secret file's
// content), so that it updates the stack.
func (u *UI) stackNew(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Deploy a stack", "stacks", cluster)
	if err != nil {
		return err
	}
	p := stackFormPage{Base: b, Values: stackValues{ResolveImage: "never"}}
	if name := strings.TrimSpace(c.Query("name")); name != "" {
		p.Values.Name, p.Update = name, true
		rev, ok, err := u.Fleet.LatestStackRevision(ctx(c), cluster, name, true)
		if err != nil {
			return err
		}
		if ok {
			p.FromRevision = rev.Revision
			p.Values, p.Files = valuesOfRevision(name, rev)
		}
	}
	return u.renderStackForm(c, fiber.StatusOK, p)
}

// stackDeploy deploys the form's compose file without waiting: the
// stack's page that follows shows its services converge. Bad input shows
// the form again with the message beside its input; nothing is deployed
// then.
func (u *UI) stackDeploy(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Deploy a stack", "stacks", cluster)
	if err != nil {
		return err
	}
	p := stackFormPage{Base: b, Update: c.FormValue("update") == "1"}
	d, problems, err := bindStack(c, &p)
	if err != nil {
		return err
	}
	status := fiber.StatusBadRequest
	if problems == nil {
		out, err := u.Fleet.DeployStack(ctx(c), cluster, httpauth.Principal(c).Role, d)
		if err == nil {
			kind, msg := deployedMessage("Deployed stack "+d.Name, out)
			return redirect(c, p.ClusterPath("/stacks/"+url.PathEscape(d.Name)), kind, "%s", msg)
		}
		if problems, status, err = stackFormError(err); err != nil {
			return err
		}
	}
	p.Errors = problems
	return u.renderStackForm(c, status, p)
}

// stackDetail is a stack's page. A stack whose objects are gone but
// whose revisions are kept still has one, to deploy a revision again.
// A live refresh skips the log tail, which is not in a live region.
func (u *UI) stackDetail(c *fiber.Ctx) error {
	cluster, name := c.Params("cluster"), c.Params("name")
	b, err := u.base(c, name, "stacks", cluster)
	if err != nil {
		return err
	}
	d, err := u.Fleet.GetStack(ctx(c), cluster, name)
	gone := errors.Is(err, errs.ErrNotFound)
	if err != nil && !gone {
		return err
	}
	revs, history, rerr := u.stackHistory(c, cluster, name)
	if rerr != nil {
		return rerr
	}
	if gone && len(revs) == 0 {
		return err
	}
	if gone {
		d = swarm.StackDetail{Name: name}
	}
	p := stackDetailPage(b, d, gone, c.Query("tasks") == "all")
	p.Revisions, p.History = revisionRows(revs), history
	p.DiffFrom, p.DiffTo = defaultDiff(revs)
	if c.Get("X-SwarmOps-Live") == "" && !gone {
		p.Logs, p.LogsProblem = stackLogTail(ctx(c), u.Fleet, cluster, name)
	}
	return u.tpl.render(c, fiber.StatusOK, "stacks_detail", p)
}

// stackHistory answers a stack's revisions; an instance that keeps no
// history says so in words rather than failing the page.
func (u *UI) stackHistory(c *fiber.Ctx, cluster, name string) ([]swarm.StackRevision, string, error) {
	revs, err := u.Fleet.StackRevisions(ctx(c), cluster, name)
	if errors.Is(err, errs.ErrUnavailable) {
		return nil, publicMessage(err), nil
	}
	return revs, "", err
}

type stackDiffPage struct {
	Base
	Name      string
	Path      string // the stack's page
	From, To  int
	Revisions []swarm.StackRevision
	Lines     []diffLine
}

// stackDiff shows the unified diff of two revisions (by default the
// newest and the one before it); env values show to those who may deploy.
func (u *UI) stackDiff(c *fiber.Ctx) error {
	cluster, name := c.Params("cluster"), c.Params("name")
	b, err := u.base(c, "Diff of "+name, "stacks", cluster)
	if err != nil {
		return err
	}
	revs, err := u.Fleet.StackRevisions(ctx(c), cluster, name)
	if err != nil {
		return err
	}
	p := stackDiffPage{Base: b, Name: name, Path: b.ClusterPath("/stacks/" + url.PathEscape(name)), Revisions: revs}
	p.From, p.To = defaultDiff(revs)
	if p.From, err = revisionQuery(c, "from", p.From); err != nil {
		return err
	}
	if p.To, err = revisionQuery(c, "to", p.To); err != nil {
		return err
	}
	if p.From > 0 && p.To > 0 {
		text, err := u.Fleet.StackDiff(ctx(c), cluster, name, p.From, p.To, b.Can("stack.write"))
		if err != nil {
			return err
		}
		p.Lines = diffLines(text)
	}
	return u.tpl.render(c, fiber.StatusOK, "stacks_diff", p)
}

// revisionQuery reads a revision number from the query, def when absent.
func revisionQuery(c *fiber.Ctx, field string, def int) (int, error) {
	s := strings.TrimSpace(c.Query(field))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, errs.Invalid(field, "expected a revision number from 1 up, got %q", s)
	}
	return n, nil
}

// stackPath is the page of the request's stack.
func stackPath(c *fiber.Ctx) string {
	return "/c/" + url.PathEscape(c.Params("cluster")) + "/stacks/" + url.PathEscape(c.Params("name"))
}

// stackRollback redeploys a revision, without waiting.
func (u *UI) stackRollback(c *fiber.Ctx) error {
	name := c.Params("name")
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue("revision")))
	if err != nil || n < 1 {
		return stackActionFailed(c, errs.Invalid("revision", "choose the revision to roll back to"))
	}
	out, err := u.Fleet.RollbackStack(ctx(c), c.Params("cluster"), name, httpauth.Principal(c).Role, n, 0)
	if err != nil {
		return stackActionFailed(c, err)
	}
	kind, msg := deployedMessage(fmt.Sprintf("Rolling stack %s back to revision %d,", name, n), out)
	return redirect(c, stackPath(c), kind, "%s", msg)
}

// stackRemove removes a stack as docker stack rm does; its revisions
// stay.
func (u *UI) stackRemove(c *fiber.Ctx) error {
	cluster, name := c.Params("cluster"), c.Params("name")
	out, err := u.Fleet.RemoveStack(ctx(c), cluster, name)
	if err != nil {
		return stackActionFailed(c, err)
	}
	return redirect(c, "/c/"+url.PathEscape(cluster)+"/stacks", "ok", "Removed stack %s: %s. Its revisions are kept.", name, removedText(out))
}

// stackActionFailed goes back to the stack's page saying why nothing
// happened (a bad value, a conflict); other errors are the error page.
func stackActionFailed(c *fiber.Ctx, err error) error {
	if errors.Is(err, errs.ErrInvalid) || errors.Is(err, errs.ErrConflict) {
		return redirect(c, stackPath(c), "error", "%s", publicMessage(err))
	}
	return err
}
