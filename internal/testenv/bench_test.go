package testenv_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

func TestAlternate(t *testing.T) {
	var order []string
	call := func(name string, v float64) func() float64 {
		return func() float64 { order = append(order, name); return v }
	}
	m := testenv.Alternate(testenv.Rounds(3), call("a", 1), call("b", 2))
	if want := []string{"a", "b", "b", "a", "a", "b"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if !slices.Equal(m, []float64{1, 2}) {
		t.Errorf("medians %v, want [1 2]", m)
	}
	order = nil
	testenv.Alternate(testenv.Rounds(2), call("a", 0), call("b", 0), call("c", 0))
	if want := []string{"a", "b", "c", "b", "c", "a"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{{nil, 0}, {[]time.Duration{3, 1, 2}, 2}, {[]time.Duration{4, 1, 2, 3}, 2}, {[]time.Duration{1, 4}, 2}} {
		if got := testenv.Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := testenv.Median([]float64{1, 2}); got != 1.5 {
		t.Errorf("Median([1 2]) = %v, want 1.5", got)
	}
}

func TestTimedGetFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.Error(w, "nope", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, r.Header.Get("X-Test"))
	}))
	defer srv.Close()
	c := &http.Client{Transport: testenv.KeepAliveTransport(4, 2)}
	h := http.Header{"X-Test": []string{"hello"}}
	if _, n, err := testenv.TimedGet(c, http.MethodGet, srv.URL+"/ok", h); err != nil || n != 5 {
		t.Errorf("TimedGet /ok: %d bytes, %v", n, err)
	}
	if b, err := testenv.Fetch(c, srv.URL+"/ok", h); err != nil || string(b) != "hello" {
		t.Errorf("Fetch /ok: %q, %v", b, err)
	}
	if _, _, err := testenv.TimedGet(c, http.MethodHead, srv.URL+"/no", nil); err == nil {
		t.Error("TimedGet /no: no error")
	}
	_, err := testenv.Fetch(c, srv.URL+"/no", nil)
	if want := "GET " + srv.URL + "/no: 404 <nil>: nope\n"; err == nil || err.Error() != want {
		t.Errorf("Fetch /no: %v, want %q", err, want)
	}
}
