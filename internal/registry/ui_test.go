package registry

import (
	"errors"
	"slices"
	"testing"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestClient_TagIndexAndDeletePreview: the index groups every tag of a
// repository by digest, whether the caller knew a tag's digest or not; a
// delete preview names every tag on the digest and deletes nothing.
func TestClient_TagIndexAndDeletePreview(t *testing.T) {
	t.Parallel()
	r := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: "ui-user", Password: "ui-pass"})
	shared := r.PushRandom(t, "team/app", "a", "b", "z")
	alone := r.PushRandom(t, "team/app", "c")
	c := newClient(t, testEndpoint(r))
	ctx := ctxT(t)

	for _, known := range []map[string]string{nil, {"a": shared, "c": alone}} {
		idx, err := c.TagIndex(ctx, "team/app", known)
		if err != nil {
			t.Fatal(err)
		}
		if !idx.Complete || !slices.Equal(idx.ByDigest[shared], []string{"a", "b", "z"}) || !slices.Equal(idx.ByDigest[alone], []string{"c"}) {
			t.Errorf("known %v: index %+v; want a, b, z on %s and c alone", known, idx, shared)
		}
		if got := idx.Others(shared, "b"); !slices.Equal(got, []string{"a", "z"}) {
			t.Errorf("others of b: %q", got)
		}
		if got := idx.Others(alone, "c"); len(got) != 0 {
			t.Errorf("others of c: %q", got)
		}
	}

	p, err := c.DeletePreview(ctx, "team/app", "z")
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != shared || !slices.Equal(p.Tags, []string{"a", "b", "z"}) {
		t.Errorf("preview %+v; want a, b, z on %s", p, shared)
	}
	// Nothing was deleted.
	page, err := c.Tags(ctx, "team/app", "", 0)
	if err != nil || len(page.Tags) != 4 {
		t.Fatalf("after the preview: %+v, %v; want the 4 tags", page, err)
	}

	_, err = c.DeletePreview(ctx, "team/app", "nope")
	if !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("preview of a missing tag: %v, want not found", err)
	}
	_, err = c.DeletePreview(ctx, "team/app", "bad tag")
	wantErr(t, "preview of a bad tag", err, errs.ErrInvalid, "tag")
	_, err = c.TagIndex(ctx, "team/none", nil)
	if !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("index of a missing repository: %v, want not found", err)
	}
}
