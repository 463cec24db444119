package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/swarmops/swarmops/internal/errs"
)

// catalogKey keeps the transport of the catalog (scope registry:catalog:*).
const catalogKey = "catalog"

// maxPages bounds the registry pages one call reads (a registry whose Link
// headers never end).
const maxPages = 1000

// RepositoryPage is one page of a registry's repositories.
type RepositoryPage struct {
	Names []string
	Next  string // pass as last for the next page; "" at the end
}

// pageSize checks n and answers the page size it means.
func pageSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, errs.Invalid("n", "%d is not a page size: expected 1 to %d (0 means %d)", n, maxPageSize, defaultPageSize)
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return n, nil
}

// Repositories answers up to n repository names after last, in the
// registry's (lexical) order. q keeps only names that contain it, ignoring
// case; registries have no such filter, so pages of the catalog are read
// until n names match or the catalog ends.
func (c *Client) Repositories(ctx context.Context, q, last string, n int) (RepositoryPage, error) {
	n, err := pageSize(n)
	if err != nil {
		return RepositoryPage{}, err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	what := "list repositories of registry " + c.url.String()
	tr, err := c.transport(ctx, catalogKey, []string{c.reg.Scope(transport.PullScope)})
	if err != nil {
		return RepositoryPage{}, c.failure(ctx, catalogKey, err, what, "the registry has no catalog")
	}
	size := n
	if q != "" {
		size = max(n, c.scanPage)
	}
	q = strings.ToLower(q)
	keep := func(name string) bool { return strings.Contains(strings.ToLower(name), q) }
	names, next, err := c.collect(ctx, tr, c.endpoint("/v2/_catalog"), "repositories", last, size, n, keep)
	if err != nil {
		return RepositoryPage{}, c.failure(ctx, catalogKey, err, what, "the registry has no catalog")
	}
	return RepositoryPage{Names: names, Next: next}, nil
}

// collect reads a paged list of names (the catalog or a tag list) starting
// at first, asking the registry for pages of size after last, and answers
// up to n names after last that keep accepts, with the last name examined
// when more remain. Each answer is sorted and names up to last skipped, so
// registries that ignore n and last (Distribution 2.8's tag lists) page
// the same way.
func (c *Client) collect(ctx context.Context, tr http.RoundTripper, first, field, last string, size, n int, keep func(string) bool) ([]string, string, error) {
	q := url.Values{"n": {strconv.Itoa(size)}}
	if last != "" {
		q.Set("last", last)
	}
	u := first + "?" + q.Encode()
	out := []string{}
	for range maxPages {
		names, next, err := c.page(ctx, tr, u, field)
		if err != nil {
			return nil, "", err
		}
		sort.Strings(names)
		for i, name := range names {
			if last != "" && name <= last {
				continue
			}
			if !keep(name) {
				continue
			}
			out = append(out, name)
			if len(out) == n {
				if i < len(names)-1 || next != "" {
					return out, name, nil
				}
				return out, "", nil
			}
		}
		if next == "" {
			return out, "", nil
		}
		u = next
	}
	return nil, "", fmt.Errorf("the registry's Link headers did not end after %d pages", maxPages)
}

// page GETs one page of names and answers them with the URL of the next
// page from the Link header ("" if none).
func (c *Client) page(ctx context.Context, tr http.RoundTripper, u, field string) ([]string, string, error) {
	resp, err := c.do(ctx, tr, http.MethodGet, u)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", checkError(resp)
	}
	var body map[string]json.RawMessage
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxListBody))
	if err := dec.Decode(&body); err != nil {
		return nil, "", fmt.Errorf("read %s: %w (at most %d MiB)", field, err, maxListBody>>20)
	}
	var names []string
	if raw := body[field]; len(raw) > 0 {
		if err := json.Unmarshal(raw, &names); err != nil {
			return nil, "", fmt.Errorf("read %s: %w", field, err)
		}
	}
	next, err := c.nextPage(resp)
	if err != nil {
		return nil, "", err
	}
	return names, next, nil
}

// nextPage answers the rel="next" target of resp's Link header, resolved
// against the request; it must stay on the registry.
func (c *Client) nextPage(resp *http.Response) (string, error) {
	for _, link := range resp.Header.Values("Link") {
		for _, part := range strings.Split(link, ",") {
			start, end := strings.Index(part, "<"), strings.Index(part, ">")
			if start < 0 || end < start {
				continue
			}
			if params := part[end+1:]; !strings.Contains(params, `rel="next"`) && !strings.Contains(params, "rel=next") {
				continue
			}
			ref, err := url.Parse(strings.TrimSpace(part[start+1 : end]))
			if err != nil {
				return "", fmt.Errorf("malformed Link header %q: %w", link, err)
			}
			next := resp.Request.URL.ResolveReference(ref)
			if !c.base.isRegistry(next) {
				return "", fmt.Errorf("the Link header points to another host (%s)", next.Host)
			}
			return next.String(), nil
		}
	}
	return "", nil
}

// repository checks repo and answers its reference and the key of its
// transport.
func (c *Client) repository(repo string) (name.Repository, string, error) {
	r, err := name.NewRepository(c.reg.Name()+"/"+repo, c.nopts...)
	if err != nil || repo == "" || strings.HasPrefix(repo, "/") {
		return name.Repository{}, "", errs.Invalid("repo", "%q is not a repository name: expected lowercase path components of letters, digits and . _ -, separated by /", repo)
	}
	return r, "repository:" + r.RepositoryStr(), nil
}

// repoTransport answers the transport for pulling from (and deleting in)
// repo; deletes widen its token's scope when the registry asks.
func (c *Client) repoTransport(ctx context.Context, repo name.Repository, key string) (http.RoundTripper, error) {
	return c.transport(ctx, key, []string{repo.Scope(transport.PullScope)})
}

// tagNames answers up to n of repo's tag names after last, asking the
// registry for pages of size.
func (c *Client) tagNames(ctx context.Context, tr http.RoundTripper, repo name.Repository, last string, size, n int) ([]string, string, error) {
	first := c.endpoint("/v2/" + repo.RepositoryStr() + "/tags/list")
	return c.collect(ctx, tr, first, "tags", last, size, n, func(string) bool { return true })
}

// notFoundRepo is the message for an unknown repository.
func (c *Client) notFoundRepo(repo string) string {
	return fmt.Sprintf("repository %q not found in registry %s", repo, c.url)
}
