package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TagPage is one page of a repository's tags.
type TagPage struct {
	Tags []Tag
	Next string // pass as last for the next page; "" at the end
}

// Tag is a tag of a repository and what its manifest says.
type Tag struct {
	Tag       string `json:"tag"`
	Digest    string `json:"digest"`
	MediaType string `json:"media_type"`
	// Size is in compressed bytes: config and layers of an image; for an
	// index, the sum over its platforms' images.
	Size int64 `json:"size"`
	// Created comes from the image config (for an index: its linux/amd64
	// image, else its first); nil when unknown.
	Created *time.Time `json:"created"`
	// Platforms holds os/arch[/variant] of the image, or one per image of
	// an index or manifest list.
	Platforms []Platform `json:"platforms"`
}

// Platform is one image of a tag.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
	Digest       string `json:"digest"`
	Size         int64  `json:"size"`
}

// Tags answers up to n tags of repo after last (lexical order), each with
// its manifest's digest, media type, size, created time and platforms.
// It understands Docker v2 schema 2 and OCI manifests, manifest lists and
// OCI indexes; other manifests come with digest and media type only. A tag
// deleted while it is read is left out.
func (c *Client) Tags(ctx context.Context, repo, last string, n int) (TagPage, error) {
	n, err := pageSize(n)
	if err != nil {
		return TagPage{}, err
	}
	r, key, err := c.repository(repo)
	if err != nil {
		return TagPage{}, err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	what := fmt.Sprintf("list tags of %q", repo)
	tr, err := c.repoTransport(ctx, r, key)
	if err != nil {
		return TagPage{}, c.failure(ctx, key, err, what, c.notFoundRepo(repo))
	}
	names, next, err := c.tagNames(ctx, tr, r, last, n, n)
	if err != nil {
		return TagPage{}, c.failure(ctx, key, err, what, c.notFoundRepo(repo))
	}
	puller, err := remote.NewPuller(remote.WithTransport(tr))
	if err != nil {
		return TagPage{}, err
	}
	tags := make([]*Tag, len(names))
	err = each(ctx, len(names), func(ctx context.Context, i int) error {
		t, err := describe(ctx, puller, r.Tag(names[i]))
		if isNotFound(err) {
			return nil // deleted meanwhile
		}
		tags[i] = t
		return err
	})
	if err != nil {
		return TagPage{}, c.failure(ctx, key, err, what, c.notFoundRepo(repo))
	}
	page := TagPage{Tags: []Tag{}, Next: next}
	for _, t := range tags {
		if t != nil {
			page.Tags = append(page.Tags, *t)
		}
	}
	return page, nil
}

// each runs f for 0..count-1 on up to workers goroutines and answers the
// first error, cancelling the others.
func each(ctx context.Context, count int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range min(workers, count) {
		wg.Go(func() {
			for i := range next {
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range count {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// isNotFound reports whether err is the registry saying 404.
func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// describe fetches ref's manifest (and what it takes to tell size, created
// time and platforms) and answers its Tag.
func describe(ctx context.Context, p *remote.Puller, ref name.Tag) (*Tag, error) {
	d, err := p.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	t := &Tag{Tag: ref.TagStr(), Digest: d.Digest.String(), MediaType: string(d.MediaType), Platforms: []Platform{}}
	switch {
	case d.MediaType.IsIndex():
		err = describeIndex(ctx, p, ref.Context(), d, t)
	case d.MediaType.IsImage():
		var im *image
		if im, err = readImage(d); err == nil {
			err = im.readConfig()
			t.Size, t.Created = im.size, im.created
			t.Platforms = append(t.Platforms, im.platform(d.Digest.String(), nil))
		}
	default:
		t.Size = d.Size
	}
	if err != nil {
		return nil, fmt.Errorf("tag %q: %w", ref.TagStr(), err)
	}
	return t, nil
}

// describeIndex fills t from the images of an index or manifest list.
// Attestation manifests (BuildKit's unknown/unknown entries) are not
// platforms and are left out.
func describeIndex(ctx context.Context, p *remote.Puller, repo name.Repository, d *remote.Descriptor, t *Tag) error {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		return err
	}
	var created, first *image
	for _, m := range idx.Manifests {
		if m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if !m.MediaType.IsImage() {
			pl := Platform{Digest: m.Digest.String(), Size: m.Size}
			if m.Platform != nil {
				pl.OS, pl.Architecture, pl.Variant = m.Platform.OS, m.Platform.Architecture, m.Platform.Variant
			}
			t.Platforms = append(t.Platforms, pl)
			t.Size += m.Size
			continue
		}
		cd, err := p.Get(ctx, repo.Digest(m.Digest.String()))
		if isNotFound(err) {
			// A broken index: list the platform it names, without size.
			pl := Platform{Digest: m.Digest.String()}
			if m.Platform != nil {
				pl.OS, pl.Architecture, pl.Variant = m.Platform.OS, m.Platform.Architecture, m.Platform.Variant
			}
			t.Platforms = append(t.Platforms, pl)
			continue
		}
		if err != nil {
			return err
		}
		im, err := readImage(cd)
		if err != nil {
			return err
		}
		if m.Platform == nil || m.Platform.OS == "" {
			if err := im.readConfig(); err != nil {
				return err
			}
		}
		pl := im.platform(m.Digest.String(), m.Platform)
		t.Platforms = append(t.Platforms, pl)
		t.Size += im.size
		if first == nil {
			first = im
		}
		if created == nil && pl.OS == "linux" && pl.Architecture == "amd64" {
			created = im
		}
	}
	if created == nil {
		created = first
	}
	if created != nil {
		if err := created.readConfig(); err != nil {
			return err
		}
		t.Created = created.created
	}
	return nil
}

// image is an image manifest and, once read, its config.
type image struct {
	desc     *remote.Descriptor
	manifest *v1.Manifest
	size     int64
	read     bool
	config   *v1.ConfigFile
	created  *time.Time
}

func readImage(d *remote.Descriptor) (*image, error) {
	m, err := v1.ParseManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		return nil, err
	}
	im := &image{desc: d, manifest: m, size: m.Config.Size}
	for _, l := range m.Layers {
		im.size += l.Size
	}
	return im, nil
}

// readConfig fetches the image config, unless the manifest's config is no
// image config (an OCI artifact) or over maxConfigSize.
func (im *image) readConfig() error {
	if im.read {
		return nil
	}
	im.read = true
	if !im.manifest.Config.MediaType.IsConfig() || im.manifest.Config.Size > maxConfigSize {
		return nil
	}
	img, err := im.desc.Image()
	if err != nil {
		return err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		if isNotFound(err) {
			return nil // a config blob gone: the tag still lists
		}
		return err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil // not a config this client can read: no created time
	}
	im.config = cf
	if !cf.Created.IsZero() {
		created := cf.Created.UTC()
		im.created = &created
	}
	return nil
}

// platform answers the image's platform: from the index entry when it has
// one, else from the config.
func (im *image) platform(digest string, p *v1.Platform) Platform {
	pl := Platform{Digest: digest, Size: im.size}
	switch {
	case p != nil && p.OS != "":
		pl.OS, pl.Architecture, pl.Variant = p.OS, p.Architecture, p.Variant
	case im.config != nil:
		pl.OS, pl.Architecture, pl.Variant = im.config.OS, im.config.Architecture, im.config.Variant
	}
	return pl
}
