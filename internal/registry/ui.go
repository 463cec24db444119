package registry

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// What the web UI asks of a registry besides the API's calls: which tags a
// delete takes along, before it is confirmed.

// maxIndexHeads bounds the manifests TagIndex asks for beyond the tags it
// is told about (a page view must stay cheap for the registry): a
// repository with more tags is indexed in part, and the delete then asks
// for confirmation on a page of its own that reads them all.
const maxIndexHeads = 100

// TagIndex is a repository's tags grouped by the digest they point at.
type TagIndex struct {
	// ByDigest holds the sorted tags on each digest examined.
	ByDigest map[string][]string
	// Complete is false when the repository has more tags than were
	// examined: a digest's list may then miss some.
	Complete bool
}

// Others answers the tags on digest other than tag.
func (x TagIndex) Others(digest, tag string) []string {
	var out []string
	for _, t := range x.ByDigest[digest] {
		if t != tag {
			out = append(out, t)
		}
	}
	return out
}

// TagIndex groups every tag of repo by its digest, for the confirmation
// of a tag delete (which removes every tag on the digest). known maps tags
// whose digests the caller has already read (the page of tags it shows)
// to them; every other tag costs a HEAD of its manifest. The cost is one
// listing of every tag name of repo, plus a HEAD for each tag not in
// known, up to maxIndexHeads (Complete false beyond).
func (s *Service) TagIndex(ctx context.Context, name, repo string, known map[string]string) (TagIndex, error) {
	c, err := s.client(ctx, name)
	if err != nil {
		return TagIndex{}, err
	}
	return c.TagIndex(ctx, repo, known)
}

// TagIndex is Service.TagIndex on this client's registry.
func (c *Client) TagIndex(ctx context.Context, repo string, known map[string]string) (TagIndex, error) {
	r, key, err := c.repository(repo)
	if err != nil {
		return TagIndex{}, err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	what := fmt.Sprintf("find the digests of the tags of %q", repo)
	tr, err := c.repoTransport(ctx, r, key)
	if err != nil {
		return TagIndex{}, c.failure(ctx, key, err, what, c.notFoundRepo(repo))
	}
	names, _, err := c.tagNames(ctx, tr, r, "", maxPageSize, math.MaxInt)
	if err != nil {
		return TagIndex{}, c.failure(ctx, key, err, what, c.notFoundRepo(repo))
	}
	idx := TagIndex{ByDigest: map[string][]string{}, Complete: true}
	var ask []string
	for _, n := range names {
		if d, ok := known[n]; ok {
			idx.ByDigest[d] = append(idx.ByDigest[d], n)
			continue
		}
		if len(ask) == maxIndexHeads {
			idx.Complete = false
			continue
		}
		ask = append(ask, n)
	}
	puller, err := remote.NewPuller(remote.WithTransport(tr))
	if err != nil {
		return TagIndex{}, err
	}
	digests := make([]string, len(ask))
	err = each(ctx, len(ask), func(ctx context.Context, i int) error {
		d, err := puller.Head(ctx, r.Tag(ask[i]))
		if isNotFound(err) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		digests[i] = d.Digest.String()
		return nil
	})
	if err != nil {
		return TagIndex{}, c.failure(ctx, key, err, what, c.notFoundRepo(repo))
	}
	for i, d := range digests {
		if d != "" {
			idx.ByDigest[d] = append(idx.ByDigest[d], ask[i])
		}
	}
	for _, tags := range idx.ByDigest {
		slices.Sort(tags)
	}
	return idx, nil
}

// DeletePreview answers what DeleteTag of tag would remove now, deleting
// nothing: the digest tag points at and every tag of repo on it (tag
// included), read as DeleteTag reads them (a HEAD of each tag of repo).
func (s *Service) DeletePreview(ctx context.Context, name, repo, tag string) (Deleted, error) {
	c, err := s.client(ctx, name)
	if err != nil {
		return Deleted{}, err
	}
	return c.DeletePreview(ctx, repo, tag)
}

// DeletePreview is Service.DeletePreview on this client's registry.
func (c *Client) DeletePreview(ctx context.Context, repo, tag string) (Deleted, error) {
	return c.deleteTag(ctx, repo, tag, true)
}
