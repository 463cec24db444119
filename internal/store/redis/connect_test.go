package redis

import (
	"strings"
	"testing"

	"github.com/swarmops/swarmops/internal/testenv"
)

// TestConnect_MisreadPasswordNotShown: a URL whose password begins with
// "#", "?" or "/" (not percent-encoded) is refused, and the error shows
// neither the password nor the URL; percent-encoded, the same password
// reaches a real Redis that requires it.
func TestConnect_MisreadPasswordNotShown(t *testing.T) {
	for _, pw := range []string{"#hunter2-a", "?hunter2-b", "/hunter2-c"} {
		for _, raw := range []string{"redis://:" + pw + "@127.0.0.1:6379/0", "unix://:" + pw + "@/run/redis.sock"} {
			c, err := Connect(ConnOptions{URL: raw})
			if err == nil {
				c.Close()
				t.Errorf("Connect(%q) accepted a URL whose host is lost to the password", raw)
				continue
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Connect(%q): %v shows the password", raw, err)
			}
		}
	}
	r := testenv.NewRedis(t, "#hunter2-real")
	c, err := Connect(ConnOptions{URL: "redis://:%23hunter2-real@" + r.Addr + "/0"})
	if err != nil {
		t.Fatalf("percent-encoded password: %v", err)
	}
	defer c.Close()
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("ping with the percent-encoded password: %v", err)
	}
	wrong, err := Connect(ConnOptions{URL: "redis://:%23wrong-hunter2@" + r.Addr + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	err = New(wrong, Options{}).Ping(t.Context())
	if !CredentialsRefused(err) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("wrong password: %v, want a refusal without the password", err)
	}
}
