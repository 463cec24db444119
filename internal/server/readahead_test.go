package server_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/swarmops/swarmops/internal/testenv"
)

// TestSessionAndRegistry_OneRoundTrip: a cluster list with a session
// cookie, and a page of the UI, read the session, its user and the
// registry in one round trip to Redis (store.ReadAhead), and answer what
// the two round trips of a read without it answer.
func TestSessionAndRegistry_OneRoundTrip(t *testing.T) {
	in := startThroughput(t)
	base := strings.TrimSuffix(in.url, "/api/v1/clusters")
	get := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Cookie", in.cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v\n%s", path, resp.StatusCode, err, body)
		}
		return body
	}
	// roundTrips answers what GET path read of Redis, in round trips.
	roundTrips := func(path string) (int64, []byte) {
		t.Helper()
		get(path) // connections made, scripts loaded
		before := testenv.RedisStats(t, in.rdb)
		body := get(path)
		return testenv.RedisStats(t, in.rdb).Reads - before.Reads - 1, body // less the INFO of RedisStats
	}
	ahead, list := roundTrips("/api/v1/clusters")
	apart, again := roundTrips("/api/v1/clusters?health=0") // read apart: a health flag turns it off
	if ahead != 1 || apart != 2 {
		t.Errorf("round trips to Redis: %d for the cluster list, want 1; %d without reading ahead, want 2", ahead, apart)
	}
	if !bytes.Equal(list, again) || !bytes.Contains(list, []byte(`"fleet-10"`)) {
		t.Errorf("the list read ahead:\n%s\nread apart:\n%s", list, again)
	}
	if n, page := roundTrips("/clusters/new"); n != 1 || !bytes.Contains(page, []byte("fleet-10")) {
		t.Errorf("a page of the UI took %d round trips to Redis, want 1 (or lists no cluster)", n)
	}
}
