package swarm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/stack"
	"github.com/swarmops/swarmops/internal/store"
)

// StackRevision is one stored deploy of a stack. Compose, Env and Files
// are left out of lists; Env values and plain file contents are shown only
// to callers who may deploy (Redacted says they were withheld); a file
// used as a secret is never shown, only its name and digest.
type StackRevision struct {
	Revision int               `json:"revision"`
	Time     time.Time         `json:"time"`
	User     string            `json:"user"`
	Compose  string            `json:"compose,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Files    []RevisionFile    `json:"files,omitempty"`
	Options  json.RawMessage   `json:"options,omitempty"`
	Result   json.RawMessage   `json:"result"`
	Redacted bool              `json:"redacted,omitempty"`
}

// RevisionFile is a file a revision's deploy carried.
type RevisionFile struct {
	Name    string  `json:"name"`
	SHA256  string  `json:"sha256"`
	Secret  bool    `json:"secret,omitempty"`
	Content *string `json:"content,omitempty"`
}

func (f *Fleet) history() (store.StackRevisions, error) {
	if f.revisions == nil {
		return nil, errs.Unavailable(nil, "this instance keeps no stack history")
	}
	return f.revisions, nil
}

// StackRevisions answers a stack's stored deploys, newest first. A stack
// deployed only by other tools has none.
func (f *Fleet) StackRevisions(ctx context.Context, cluster, name string) ([]StackRevision, error) {
	h, err := f.history()
	if err != nil {
		return nil, err
	}
	if _, err := f.cluster(ctx, cluster); err != nil {
		return nil, err
	}
	list, err := h.ListStackRevisions(ctx, cluster, name)
	if err != nil {
		return nil, fmt.Errorf("stack %q revisions: %w", name, err)
	}
	out := make([]StackRevision, 0, len(list))
	for _, r := range list {
		out = append(out, StackRevision{Revision: r.Number, Time: r.Time, User: r.User, Result: r.Result})
	}
	return out, nil
}

// StackRevision answers one revision; reveal shows env values and plain
// file contents (for callers who may deploy the stack).
func (f *Fleet) StackRevision(ctx context.Context, cluster, name string, n int, reveal bool) (StackRevision, error) {
	r, err := f.revision(ctx, cluster, name, n)
	if err != nil {
		return StackRevision{}, err
	}
	out := StackRevision{Revision: r.Number, Time: r.Time, User: r.User, Compose: r.Compose,
		Options: r.Options, Result: r.Result, Redacted: !reveal, Env: map[string]string{}, Files: []RevisionFile{}}
	for k, v := range r.Env {
		if !reveal {
			v = ""
		}
		out.Env[k] = v
	}
	for name, content := range r.Files {
		file := RevisionFile{Name: name, SHA256: digest(content)}
		if reveal {
			file.Content = &content
		}
		out.Files = append(out.Files, file)
	}
	for name, s := range r.Sealed {
		out.Files = append(out.Files, RevisionFile{Name: name, SHA256: s.SHA256, Secret: true})
	}
	slices.SortFunc(out.Files, func(a, b RevisionFile) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func (f *Fleet) revision(ctx context.Context, cluster, name string, n int) (store.StackRevision, error) {
	h, err := f.history()
	if err != nil {
		return store.StackRevision{}, err
	}
	if n < 1 {
		return store.StackRevision{}, errs.Invalid("revision", "expected a revision number from 1 up")
	}
	if _, err := f.cluster(ctx, cluster); err != nil {
		return store.StackRevision{}, err
	}
	r, err := h.GetStackRevision(ctx, cluster, name, n)
	if errors.Is(err, errs.ErrNotFound) {
		return r, errs.NotFound("stack %q of cluster %q has no revision %d (older ones than the last %d are dropped)", name, cluster, n, store.StackRevisionCap)
	}
	if err != nil {
		return r, fmt.Errorf("stack %q revision %d: %w", name, n, err)
	}
	return r, nil
}

// StackDiff answers a unified diff of two revisions: their compose files,
// then their env and files when those differ (a redeploy that changed
// only a variable is not an empty diff). Env values show only with
// reveal; otherwise a changed value is marked as changed. Files show as
// their digests, never their content.
func (f *Fleet) StackDiff(ctx context.Context, cluster, name string, from, to int, reveal bool) (string, error) {
	a, err := f.revision(ctx, cluster, name, from)
	if err != nil {
		return "", err
	}
	b, err := f.revision(ctx, cluster, name, to)
	if err != nil {
		return "", err
	}
	nameA, nameB := fmt.Sprintf("revision %d", from), fmt.Sprintf("revision %d", to)
	var out strings.Builder
	out.WriteString(stack.UnifiedDiff(a.Compose, b.Compose, nameA, nameB))
	out.WriteString(stack.UnifiedDiff(envText(a.Env, nil, reveal), envText(b.Env, a.Env, reveal), nameA+" env", nameB+" env"))
	out.WriteString(stack.UnifiedDiff(filesText(a), filesText(b), nameA+" files", nameB+" files"))
	return out.String(), nil
}

// envText is env as sorted KEY=value lines; without reveal a value is
// "(hidden)", or "(hidden, changed)" where it differs from was's.
func envText(env, was map[string]string, reveal bool) string {
	var lines []string
	for k, v := range env {
		switch {
		case reveal:
			lines = append(lines, k+"="+v)
		case was != nil && was[k] != v:
			lines = append(lines, k+"=(hidden, changed)")
		default:
			lines = append(lines, k+"=(hidden)")
		}
	}
	return sortedLines(lines)
}

// filesText is a revision's files as sorted "path sha256" lines.
func filesText(r store.StackRevision) string {
	var lines []string
	for name, content := range r.Files {
		lines = append(lines, name+" sha256:"+digest(content))
	}
	for name, s := range r.Sealed {
		lines = append(lines, name+" sha256:"+s.SHA256+" (secret)")
	}
	return sortedLines(lines)
}

func sortedLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// RollbackStack redeploys revision n of a stack as it was (with prune, so
// that services added since go), and stores it as a new revision. It is a
// deploy of the revision's file, host access checked against caller as
// for DeployStack: the file's images are resolved again, so what would run
// with the host may not be what ran before.
func (f *Fleet) RollbackStack(ctx context.Context, cluster, name string, caller auth.Role, n int, wait time.Duration) (StackDeployed, error) {
	r, err := f.revision(ctx, cluster, name, n)
	if err != nil {
		f.audit.Record(ctx, "", "stack.rollback", cluster, name, err)
		return StackDeployed{}, err
	}
	var opts deployOptions
	_ = json.Unmarshal(r.Options, &opts)
	files := make(map[string]string, len(r.Files)+len(r.Sealed))
	for k, v := range r.Files {
		files[k] = v
	}
	for k, s := range r.Sealed {
		plain, err := f.box.Open(s.Data)
		if err != nil {
			err = errs.Conflict("revision %d's secret file %s cannot be opened with this instance's SWARMOPS_SECRET_KEY (%v)", n, k, err)
			f.audit.Record(ctx, "", "stack.rollback", cluster, name, err)
			return StackDeployed{}, err
		}
		files[k] = string(plain)
	}
	return f.deployStack(ctx, cluster, "stack.rollback", caller, StackDeploy{
		Name: name, Source: stack.Source{Compose: r.Compose, Env: r.Env, Files: files},
		Prune: true, ResolveImage: opts.ResolveImage, Wait: wait,
	}, n)
}
