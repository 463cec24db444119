package testenv

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// Poll calls f every 100 ms until it answers nil, or fails the test after
// timeout with what was awaited and f's last error.
func Poll(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: waited %s for %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitHTTP polls url until a GET answers 200 and answers the body, or
// fails the test after timeout.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) []byte {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	var body []byte
	Poll(t, timeout, "200 from GET "+url, func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %.200s", resp.Status, b)
		}
		body = b
		return nil
	})
	return body
}
