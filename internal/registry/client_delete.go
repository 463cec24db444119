package registry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/swarmops/swarmops/internal/errs"
)

// Deleted is what DeleteTag removed.
type Deleted struct {
	Digest string `json:"digest"`
	// Tags are every tag that pointed at Digest (the one named included),
	// found before the delete: the registry removes them all with it.
	Tags []string `json:"tags"`
}

// TagsOnDigest answers the tags of repo that point at digest, sorted: the
// tags a delete of that manifest takes along (the UI's confirmation).
func (c *Client) TagsOnDigest(ctx context.Context, repo, digest string) ([]string, error) {
	r, key, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, errs.Invalid("digest", "%q is not a digest: expected sha256:<64 hex digits>", digest)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	what := fmt.Sprintf("find the tags of %s in %q", digest, repo)
	tr, err := c.repoTransport(ctx, r, key)
	if err != nil {
		return nil, c.failure(ctx, key, err, what, c.notFoundRepo(repo))
	}
	tags, err := c.tagsOn(ctx, tr, r, h)
	if err != nil {
		return nil, c.failure(ctx, key, err, what, c.notFoundRepo(repo))
	}
	return tags, nil
}

// tagsOn reads every tag of repo and HEADs each to find those on h.
func (c *Client) tagsOn(ctx context.Context, tr http.RoundTripper, repo name.Repository, h v1.Hash) ([]string, error) {
	names, _, err := c.tagNames(ctx, tr, repo, "", maxPageSize, math.MaxInt)
	if err != nil {
		return nil, err
	}
	puller, err := remote.NewPuller(remote.WithTransport(tr))
	if err != nil {
		return nil, err
	}
	on := make([]bool, len(names))
	err = each(ctx, len(names), func(ctx context.Context, i int) error {
		d, err := puller.Head(ctx, repo.Tag(names[i]))
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		on[i] = d.Digest == h
		return nil
	})
	if err != nil {
		return nil, err
	}
	tags := []string{}
	for i, name := range names {
		if on[i] {
			tags = append(tags, name)
		}
	}
	slices.Sort(tags)
	return tags, nil
}

// DeleteTag deletes the manifest tag points at, by digest, and with it
// every tag on that digest (which it answers, found before the delete).
// A registry that does not allow deletes is errs.Conflict saying how to
// allow them; an unknown repository or tag is errs.NotFound.
func (c *Client) DeleteTag(ctx context.Context, repo, tag string) (Deleted, error) {
	return c.deleteTag(ctx, repo, tag, false)
}

// deleteTag is DeleteTag, or with preview only what it would delete.
func (c *Client) deleteTag(ctx context.Context, repo, tag string, preview bool) (Deleted, error) {
	r, key, err := c.repository(repo)
	if err != nil {
		return Deleted{}, err
	}
	ref, err := name.NewTag(r.String()+":"+tag, c.nopts...)
	if err != nil || tag == "" || ref.TagStr() != tag {
		return Deleted{}, errs.Invalid("tag", "%q is not a tag: expected up to 128 letters, digits and . _ -, not starting with . or -", tag)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	what := fmt.Sprintf("delete tag %q of %q", tag, repo)
	if preview {
		what = fmt.Sprintf("find what deleting tag %q of %q removes", tag, repo)
	}
	notFound := fmt.Sprintf("tag %q of repository %q not found in registry %s", tag, repo, c.url)
	tr, err := c.repoTransport(ctx, r, key)
	if err != nil {
		return Deleted{}, c.failure(ctx, key, err, what, notFound)
	}
	puller, err := remote.NewPuller(remote.WithTransport(tr))
	if err != nil {
		return Deleted{}, err
	}
	d, err := puller.Head(ctx, ref)
	if err != nil {
		return Deleted{}, c.failure(ctx, key, err, what, notFound)
	}
	tags, err := c.tagsOn(ctx, tr, r, d.Digest)
	if err != nil {
		return Deleted{}, c.failure(ctx, key, err, what, notFound)
	}
	if !slices.Contains(tags, tag) {
		tags = append(tags, tag)
		slices.Sort(tags)
	}
	if preview {
		return Deleted{Digest: d.Digest.String(), Tags: tags}, nil
	}
	pusher, err := remote.NewPusher(remote.WithTransport(tr))
	if err != nil {
		return Deleted{}, err
	}
	if err := pusher.Delete(ctx, r.Digest(d.Digest.String())); err != nil {
		var te *transport.Error
		if errors.As(err, &te) && deleteRefused(te) {
			e := errs.Conflict("registry %s does not allow deletes (it answered %d: %s). Deletes must be enabled in the registry's configuration "+
				"(storage: delete: enabled: true in its config.yml, or REGISTRY_STORAGE_DELETE_ENABLED=true in its environment) "+
				"and the registry restarted; its garbage collector then frees the space",
				c.url, te.StatusCode, c.message(te))
			e.Err = c.scrub(err)
			return Deleted{}, e
		}
		return Deleted{}, c.failure(ctx, key, err, what, fmt.Sprintf("manifest %s of tag %q is already gone from %q", d.Digest, tag, repo))
	}
	return Deleted{Digest: d.Digest.String(), Tags: tags}, nil
}

// deleteRefused reports whether te is a registry saying it does not
// delete manifests (Distribution: 405 UNSUPPORTED).
func deleteRefused(te *transport.Error) bool {
	if te.StatusCode == http.StatusMethodNotAllowed {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.UnsupportedErrorCode {
			return true
		}
	}
	return false
}
