package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/testenv"
)

const (
	testUser     = "swarmops"
	testPassword = "Pa55-registry-secret-7f3c"
)

// errorLog keeps every error a test saw, to check that none carries the
// password.
type errorLog struct {
	mu   sync.Mutex
	errs []string
}

func (l *errorLog) add(err error) error {
	if err != nil {
		l.mu.Lock()
		l.errs = append(l.errs, err.Error())
		if e, ok := errs.Public(err); ok {
			l.errs = append(l.errs, e.Message)
		}
		l.mu.Unlock()
	}
	return err
}

func (l *errorLog) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		t.Fatal("no error was recorded: the checks of error texts did not run")
	}
	for _, s := range l.errs {
		if strings.Contains(s, testPassword) {
			t.Errorf("an error carries the password: %s", s)
		}
	}
}

// wantErr fails unless err is of kind (and on field, for ErrInvalid) and
// its public message contains every one of words.
func wantErr(t *testing.T, what string, err, kind error, field string, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("%s: error %q is not %v", what, err, kind)
	}
	e, ok := errs.Public(err)
	if !ok {
		t.Fatalf("%s: %q is no public error", what, err)
	}
	t.Logf("%s: %s", what, err)
	if e.Field != field {
		t.Errorf("%s: field %q, want %q (%s)", what, e.Field, field, e.Message)
	}
	for _, w := range words {
		if !strings.Contains(e.Message, w) {
			t.Errorf("%s: message %q does not say %q", what, e.Message, w)
		}
	}
}

func newClient(t *testing.T, e Endpoint) *Client {
	t.Helper()
	c, err := NewClient(e)
	if err != nil {
		t.Fatalf("NewClient(%s): %v", e.URL, err)
	}
	return c
}

func testEndpoint(r *testenv.Registry) Endpoint {
	return Endpoint{URL: r.URL, Username: r.User, Password: r.Password, CA: r.CA}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// content is what pushRepos put in a registry.
type content struct {
	repos                 []string // sorted
	image, index, deleted string   // digests: img:v1 and img:latest, img:multi, del:a and del:b
	pushed                time.Time
}

// pushRepos fills r: seven repositories apps/{alpha-1..4,beta-1..3} with
// one tag each, img (v1 and latest on one image, multi an index) and del
// (a and b on one image, c on another).
func pushRepos(t *testing.T, r *testenv.Registry) content {
	t.Helper()
	c := content{pushed: time.Now().Add(-2 * time.Second)}
	for i := 1; i <= 7; i++ {
		repo := "apps/alpha-" + strconv.Itoa(i)
		if i > 4 {
			repo = "apps/beta-" + strconv.Itoa(i-4)
		}
		r.PushRandom(t, repo, "1.0")
		c.repos = append(c.repos, repo)
	}
	c.image = r.PushRandom(t, "img", "v1", "latest")
	c.index = r.PushRandomIndex(t, "img", "multi")
	c.deleted = r.PushRandom(t, "del", "a", "b")
	r.PushRandom(t, "del", "c")
	c.repos = append(c.repos, "del", "img")
	slices.Sort(c.repos)
	return c
}

func TestClient_Basic(t *testing.T) {
	t.Parallel()
	r := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: testUser, Password: testPassword})
	exercise(t, r, "UNAUTHORIZED: authentication required")
}

func TestClient_Bearer(t *testing.T) {
	t.Parallel()
	r := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: testUser, Password: testPassword, Token: true})
	exercise(t, r, "incorrect username or password")

	t.Run("tokens are cached per scope", func(t *testing.T) {
		ctx := ctxT(t)
		c := newClient(t, testEndpoint(r))
		before := r.TokenRequests()
		if _, err := c.Tags(ctx, "img", "", 0); err != nil {
			t.Fatal(err)
		}
		first := r.TokenRequests()
		if first <= before {
			t.Fatalf("tokens issued: %d before the first call, %d after: the bearer path was not used", before, first)
		}
		for range 3 {
			if _, err := c.Tags(ctx, "img", "", 0); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.TokenRequests(); got != first {
			t.Errorf("tokens issued: %d after the first Tags, %d after three more: the token was not reused", first, got)
		}
		if _, err := c.Repositories(ctx, "", "", 0); err != nil {
			t.Fatal(err)
		}
		catalog := r.TokenRequests()
		if catalog <= first {
			t.Errorf("tokens issued: %d before the first Repositories, %d after: the catalog needs its own scope", first, catalog)
		}
		for range 2 {
			if _, err := c.Repositories(ctx, "", "", 0); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Tags(ctx, "img", "", 0); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.TokenRequests(); got != catalog {
			t.Errorf("tokens issued: %d, then %d after more calls in both scopes", catalog, got)
		}
	})

	t.Run("an expired token is replaced", func(t *testing.T) {
		t.Parallel()
		short := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: testUser, Password: testPassword, Token: true, TokenTTL: 2 * time.Second})
		short.PushRandom(t, "img", "v1")
		ctx := ctxT(t)
		c := newClient(t, testEndpoint(short))
		if _, err := c.Tags(ctx, "img", "", 0); err != nil {
			t.Fatal(err)
		}
		issued := short.TokenRequests()
		calls := 0
		testenv.Poll(t, 20*time.Second, "a new token after the first one expired (2 s)", func() error {
			calls++
			page, err := c.Tags(ctx, "img", "", 0)
			if err != nil {
				t.Fatalf("Tags, call %d after the first token: %v", calls, err)
			}
			if len(page.Tags) != 1 {
				t.Fatalf("Tags, call %d: %+v", calls, page)
			}
			if got := short.TokenRequests(); got == issued {
				return fmt.Errorf("still %d tokens issued after %d calls", got, calls)
			}
			return nil
		})
	})

	t.Run("a plain http token service is not sent credentials of an https registry", func(t *testing.T) {
		t.Parallel()
		tr := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: testUser, Password: testPassword, Token: true, TLS: true})
		c := newClient(t, testEndpoint(tr))
		err := c.Ping(ctxT(t))
		wantErr(t, "Ping", err, errs.ErrInvalid, "url", "plain http")
		if n := tr.TokenRequests(); n != 0 {
			t.Errorf("the token service issued %d tokens", n)
		}
	})
}

// exercise runs the client against r (credentials testUser/testPassword);
// refused is the registry's message for a wrong password.
func exercise(t *testing.T, r *testenv.Registry, refused string) {
	got := pushRepos(t, r)
	c := newClient(t, testEndpoint(r))
	var seen errorLog
	t.Cleanup(func() { seen.check(t) })

	t.Run("ping", func(t *testing.T) {
		ctx := ctxT(t)
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		bad := newClient(t, Endpoint{URL: r.URL, Username: testUser, Password: testPassword + "-wrong"})
		err := seen.add(bad.Ping(ctx))
		wantErr(t, "Ping with a wrong password", err, errs.ErrInvalid, "password", refused)
		if err != nil && strings.Contains(err.Error(), testPassword) {
			t.Errorf("the error names the password: %v", err)
		}
		anon := newClient(t, Endpoint{URL: r.URL})
		wantErr(t, "Ping without credentials", seen.add(anon.Ping(ctx)), errs.ErrInvalid, "username", "requires credentials")

		closed := newClient(t, Endpoint{URL: "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), Username: testUser, Password: testPassword})
		wantErr(t, "Ping to a closed port", seen.add(closed.Ping(ctx)), errs.ErrInvalid, "url", "cannot be reached", "connection refused")

		// Calls other than Ping answer errs.Engine (refused) and
		// errs.Unavailable (unreachable).
		_, err = bad.Tags(ctx, "img", "", 0)
		wantErr(t, "Tags with a wrong password", seen.add(err), errs.ErrEngine, "", "refused", refused)
		_, err = bad.Repositories(ctx, "", "", 0)
		wantErr(t, "Repositories with a wrong password", seen.add(err), errs.ErrEngine, "", "refused", refused)
		_, err = bad.DeleteTag(ctx, "img", "v1")
		wantErr(t, "DeleteTag with a wrong password", seen.add(err), errs.ErrEngine, "", "refused")
		_, err = closed.Tags(ctx, "img", "", 0)
		wantErr(t, "Tags to a closed port", seen.add(err), errs.ErrUnavailable, "", "cannot be reached")
	})

	t.Run("repositories, paged", func(t *testing.T) {
		ctx := ctxT(t)
		var all []string
		pages := 0
		last := ""
		for {
			page, err := c.Repositories(ctx, "", last, 3)
			if err != nil {
				t.Fatalf("Repositories after %q: %v", last, err)
			}
			pages++
			if len(page.Names) > 3 {
				t.Errorf("page %d has %d names: %v", pages, len(page.Names), page.Names)
			}
			all = append(all, page.Names...)
			if page.Next == "" {
				break
			}
			if pages > 10 {
				t.Fatalf("no end after %d pages: %v", pages, all)
			}
			last = page.Next
		}
		if diff := cmp.Diff(got.repos, all); diff != "" {
			t.Errorf("repositories over %d pages (-want +got):\n%s", pages, diff)
		}
		if pages < 3 {
			t.Errorf("%d repositories in %d pages of 3", len(all), pages)
		}
	})

	t.Run("repositories, filtered", func(t *testing.T) {
		ctx := ctxT(t)
		fc := newClient(t, testEndpoint(r))
		fc.scanPage = 2 // several registry pages per call
		page, err := fc.Repositories(ctx, "ALPHA", "", 3)
		if err != nil {
			t.Fatal(err)
		}
		want := RepositoryPage{Names: []string{"apps/alpha-1", "apps/alpha-2", "apps/alpha-3"}, Next: "apps/alpha-3"}
		if diff := cmp.Diff(want, page); diff != "" {
			t.Errorf("first page of q=ALPHA, n=3 (-want +got):\n%s", diff)
		}
		page, err = fc.Repositories(ctx, "ALPHA", page.Next, 3)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(RepositoryPage{Names: []string{"apps/alpha-4"}}, page); diff != "" {
			t.Errorf("second page of q=ALPHA (-want +got):\n%s", diff)
		}
		page, err = c.Repositories(ctx, "beta-", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(RepositoryPage{Names: []string{"apps/beta-1", "apps/beta-2", "apps/beta-3"}}, page); diff != "" {
			t.Errorf("q=beta- (-want +got):\n%s", diff)
		}
		page, err = c.Repositories(ctx, "nothing-like-this", "", 0)
		if err != nil || len(page.Names) != 0 || page.Next != "" {
			t.Errorf("q without match: %+v, %v", page, err)
		}
		_, err = c.Repositories(ctx, "", "", -1)
		wantErr(t, "n=-1", seen.add(err), errs.ErrInvalid, "n")
	})

	t.Run("tags", func(t *testing.T) {
		ctx := ctxT(t)
		page, err := c.Tags(ctx, "img", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if page.Next != "" || len(page.Tags) != 3 {
			t.Fatalf("tags of img: %+v", page)
		}
		latest, multi, v1 := page.Tags[0], page.Tags[1], page.Tags[2]
		if latest.Tag != "latest" || multi.Tag != "multi" || v1.Tag != "v1" {
			t.Fatalf("tags of img in order: %s %s %s", latest.Tag, multi.Tag, v1.Tag)
		}
		if diff := cmp.Diff(v1, Tag{
			Tag: "v1", Digest: got.image, MediaType: "application/vnd.docker.distribution.manifest.v2+json",
			Size: v1.Size, Created: v1.Created,
			Platforms: []Platform{{OS: "linux", Architecture: "amd64", Digest: got.image, Size: v1.Size}},
		}); diff != "" {
			t.Errorf("image tag v1 (-got +want):\n%s", diff)
		}
		if latest.Digest != v1.Digest || latest.Size != v1.Size {
			t.Errorf("latest %+v and v1 %+v: the same image", latest, v1)
		}
		// Two layers of 256 random bytes (tar, gzip) and a config.
		if v1.Size < 2*256 || v1.Size > 64<<10 {
			t.Errorf("size of v1: %d bytes", v1.Size)
		}
		checkCreated(t, "v1", v1.Created, got.pushed)

		if multi.Digest != got.index || multi.MediaType != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("index tag multi: digest %s, media type %s; pushed %s", multi.Digest, multi.MediaType, got.index)
		}
		if len(multi.Platforms) != 2 {
			t.Fatalf("platforms of multi: %+v", multi.Platforms)
		}
		amd, arm := multi.Platforms[0], multi.Platforms[1]
		if amd.OS != "linux" || amd.Architecture != "amd64" || amd.Variant != "" ||
			arm.OS != "linux" || arm.Architecture != "arm64" || arm.Variant != "v8" {
			t.Errorf("platforms of multi: %+v", multi.Platforms)
		}
		if amd.Digest == arm.Digest || amd.Digest == multi.Digest || !strings.HasPrefix(amd.Digest, "sha256:") {
			t.Errorf("platform digests of multi %s: %s, %s", multi.Digest, amd.Digest, arm.Digest)
		}
		if amd.Size < 2*256 || arm.Size < 2*256 || multi.Size != amd.Size+arm.Size {
			t.Errorf("sizes of multi: %d = %d + %d?", multi.Size, amd.Size, arm.Size)
		}
		checkCreated(t, "multi", multi.Created, got.pushed)

		var names []string
		last := ""
		for range 5 {
			page, err := c.Tags(ctx, "img", last, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, tag := range page.Tags {
				names = append(names, tag.Tag)
			}
			if last = page.Next; last == "" {
				break
			}
		}
		if diff := cmp.Diff([]string{"latest", "multi", "v1"}, names); diff != "" {
			t.Errorf("tags of img one per page (-want +got):\n%s", diff)
		}

		on, err := c.TagsOnDigest(ctx, "img", got.image)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"latest", "v1"}, on); diff != "" {
			t.Errorf("TagsOnDigest (-want +got):\n%s", diff)
		}
	})

	t.Run("delete", func(t *testing.T) {
		ctx := ctxT(t)
		deleted, err := c.DeleteTag(ctx, "del", "a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Deleted{Digest: got.deleted, Tags: []string{"a", "b"}}, deleted); diff != "" {
			t.Errorf("DeleteTag (-want +got):\n%s", diff)
		}
		page, err := c.Tags(ctx, "del", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Tags) != 1 || page.Tags[0].Tag != "c" {
			t.Errorf("tags of del after deleting a (and b with it): %+v", page.Tags)
		}
		_, err = c.DeleteTag(ctx, "del", "a")
		wantErr(t, "DeleteTag of a deleted tag", seen.add(err), errs.ErrNotFound, "", `tag "a"`)
		on, err := c.TagsOnDigest(ctx, "del", got.deleted)
		if err != nil || len(on) != 0 {
			t.Errorf("TagsOnDigest of the deleted digest: %v, %v", on, err)
		}
	})

	t.Run("unknown or invalid names", func(t *testing.T) {
		ctx := ctxT(t)
		_, err := c.Tags(ctx, "no/such-repo", "", 0)
		wantErr(t, "Tags of an unknown repository", seen.add(err), errs.ErrNotFound, "", `"no/such-repo" not found`)
		_, err = c.DeleteTag(ctx, "no/such-repo", "1")
		wantErr(t, "DeleteTag in an unknown repository", seen.add(err), errs.ErrNotFound, "")
		_, err = c.DeleteTag(ctx, "img", "no-such-tag")
		wantErr(t, "DeleteTag of an unknown tag", seen.add(err), errs.ErrNotFound, "", `"no-such-tag"`)
		_, err = c.TagsOnDigest(ctx, "no/such-repo", got.image)
		wantErr(t, "TagsOnDigest in an unknown repository", seen.add(err), errs.ErrNotFound, "")
		_, err = c.Tags(ctx, "Upper/Case", "", 0)
		wantErr(t, "Tags of an invalid name", seen.add(err), errs.ErrInvalid, "repo")
		_, err = c.DeleteTag(ctx, "img", "")
		wantErr(t, "DeleteTag of an empty tag", seen.add(err), errs.ErrInvalid, "tag")
		_, err = c.TagsOnDigest(ctx, "img", "sha256:nope")
		wantErr(t, "TagsOnDigest of an invalid digest", seen.add(err), errs.ErrInvalid, "digest")
	})
}

func checkCreated(t *testing.T, tag string, created *time.Time, pushed time.Time) {
	t.Helper()
	if created == nil {
		t.Errorf("%s: no created time", tag)
		return
	}
	if created.Before(pushed) || created.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: created %s, pushed after %s", tag, created, pushed)
	}
}

func TestClient_DeletesDisabled(t *testing.T) {
	t.Parallel()
	r := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: testUser, Password: testPassword, NoDelete: true})
	digest := r.PushRandom(t, "keep", "1", "2")
	ctx := ctxT(t)
	c := newClient(t, testEndpoint(r))
	_, err := c.DeleteTag(ctx, "keep", "1")
	wantErr(t, "DeleteTag", err, errs.ErrConflict, "", "does not allow deletes", "storage: delete: enabled: true", "REGISTRY_STORAGE_DELETE_ENABLED=true")
	on, err := c.TagsOnDigest(ctx, "keep", digest)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1", "2"}, on); diff != "" {
		t.Errorf("tags after the refused delete (-want +got):\n%s", diff)
	}
}

func TestClient_TLS(t *testing.T) {
	t.Parallel()
	r := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: testUser, Password: testPassword, TLS: true})
	r.PushRandom(t, "img", "v1")
	ctx := ctxT(t)
	var seen errorLog
	defer seen.check(t)

	withCA := newClient(t, testEndpoint(r))
	if err := withCA.Ping(ctx); err != nil {
		t.Fatalf("Ping with the CA: %v", err)
	}
	page, err := withCA.Tags(ctx, "img", "", 0)
	if err != nil || len(page.Tags) != 1 {
		t.Fatalf("Tags with the CA: %+v, %v", page, err)
	}

	untrusted := newClient(t, Endpoint{URL: r.URL, Username: testUser, Password: testPassword})
	wantErr(t, "Ping without the CA", seen.add(untrusted.Ping(ctx)), errs.ErrInvalid, "url", "certificate", "insecure_skip_verify")
	_, err = untrusted.Tags(ctx, "img", "", 0)
	wantErr(t, "Tags without the CA", seen.add(err), errs.ErrUnavailable, "", "certificate")

	skip := newClient(t, Endpoint{URL: r.URL, Username: testUser, Password: testPassword, InsecureSkipVerify: true})
	if err := skip.Ping(ctx); err != nil {
		t.Fatalf("Ping with insecure_skip_verify: %v", err)
	}

	plain := newClient(t, Endpoint{URL: "http://" + r.Addr, Username: testUser, Password: testPassword})
	wantErr(t, "Ping over http to the TLS port", seen.add(plain.Ping(ctx)), errs.ErrInvalid, "url", "not a registry API v2")

	bad := newClient(t, Endpoint{URL: r.URL, Username: testUser, Password: "wrong-" + testPassword, CA: r.CA})
	wantErr(t, "Ping with a wrong password", seen.add(bad.Ping(ctx)), errs.ErrInvalid, "password", "authentication required")
}

// TestClient_NoCredentialsAcrossHosts has the registry (a test server
// that asks for basic auth) redirect its catalog to another host:port,
// which must not see the credentials.
func TestClient_NoCredentialsAcrossHosts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var atOther, atRegistry []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		atOther = append(atOther, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"repositories":["elsewhere"]}`)
	}))
	t.Cleanup(other.Close)
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != testUser || pass != testPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		atRegistry = append(atRegistry, r.URL.Path)
		mu.Unlock()
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(reg.Close)
	if h1, _, _ := net.SplitHostPort(reg.Listener.Addr().String()); h1 != "127.0.0.1" {
		t.Fatalf("test server on %s", h1)
	}
	c := newClient(t, Endpoint{URL: reg.URL, Username: testUser, Password: testPassword})
	page, err := c.Repositories(ctxT(t), "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"elsewhere"}, page.Names); diff != "" {
		t.Errorf("catalog through the redirect (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(atRegistry, "/v2/_catalog") {
		t.Errorf("the registry saw authenticated requests for %v, not the catalog", atRegistry)
	}
	if len(atOther) != 1 || atOther[0] != "" {
		t.Errorf("Authorization headers at the other host: %q", atOther)
	}
}

func TestNewClient(t *testing.T) {
	t.Parallel()
	hosts := map[string]string{
		"https://index.docker.io":      "docker.io",
		"https://registry-1.docker.io": "docker.io",
		"http://127.0.0.1:5000":        "127.0.0.1:5000",
		"https://Reg.Example.com:443/": "reg.example.com",
		"https://reg.example.com:8443": "reg.example.com:8443",
		"http://reg.example.com:80":    "reg.example.com",
		"https://[::1]:5000":           "[::1]:5000",
	}
	for u, want := range hosts {
		c, err := NewClient(Endpoint{URL: u})
		if err != nil {
			t.Errorf("NewClient(%s): %v", u, err)
			continue
		}
		if got := c.Host(); got != want {
			t.Errorf("Host of %s: %q, want %q", u, got, want)
		}
	}
	bad := []struct {
		e     Endpoint
		field string
	}{
		{Endpoint{URL: ""}, "url"},
		{Endpoint{URL: "reg.example.com:5000"}, "url"},
		{Endpoint{URL: "ftp://reg.example.com"}, "url"},
		{Endpoint{URL: "https://u:p@reg.example.com"}, "url"},
		{Endpoint{URL: "https://reg.example.com/v2/"}, "url"},
		{Endpoint{URL: "https://reg.example.com?x=1"}, "url"},
		{Endpoint{URL: "https://reg.example.com:99999"}, "url"},
		{Endpoint{URL: "https://reg.example.com", CA: "not a certificate"}, "ca"},
		{Endpoint{URL: "https://reg.example.com", Username: "u"}, "password"},
		{Endpoint{URL: "https://reg.example.com", Password: "p-secret-value"}, "username"},
	}
	for _, b := range bad {
		_, err := NewClient(b.e)
		e, ok := errs.Public(err)
		if !ok || !errors.Is(err, errs.ErrInvalid) || e.Field != b.field {
			t.Errorf("NewClient(%+v): %v, want invalid %s", b.e, err, b.field)
			continue
		}
		if b.field == "url" && !strings.Contains(e.Message, "https://host[:port]") {
			t.Errorf("NewClient(%q): %q does not give the expected syntax", b.e.URL, e.Message)
		}
		if strings.Contains(err.Error(), "p-secret-value") {
			t.Errorf("NewClient: %v names the password", err)
		}
	}
}
