// Command refserver is the reference of the benchmark suite's throughput
// row: a bare fiber app that answers GET /api/v1/clusters with what
// SwarmOps needs at the least for it — the two Redis GETs of a session
// and of the data — and nothing else (no middleware, no access log).
//
// The benchmark (package bench) builds it, starts it as a process of its
// own like the swarmops process it is compared with, and puts the
// session and the data in Redis:
//
//	REF_LISTEN=127.0.0.1:port REF_REDIS_URL=redis://127.0.0.1:6379/0 REF_PREFIX=bench:ref: refserver
//
// The session is the value of cookie swarmops_session, stored as
// <prefix>session:<value> (JSON with an expires_at), and the data is the
// value of <prefix>data, answered as it is, as JSON.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "refserver:", err)
		os.Exit(1)
	}
}

func run() error {
	opts, err := redis.ParseURL(os.Getenv("REF_REDIS_URL"))
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	prefix := os.Getenv("REF_PREFIX")
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/api/v1/clusters", func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		sid := c.Cookies("swarmops_session")
		if sid == "" {
			return c.SendStatus(fiber.StatusUnauthorized)
		}
		raw, err := rdb.Get(ctx, prefix+"session:"+sid).Bytes()
		if err == redis.Nil {
			return c.SendStatus(fiber.StatusUnauthorized)
		} else if err != nil {
			return err
		}
		var sess struct {
			Username  string    `json:"username"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		if err := json.Unmarshal(raw, &sess); err != nil {
			return err
		}
		if sess.Username == "" || !time.Now().Before(sess.ExpiresAt) {
			return c.SendStatus(fiber.StatusUnauthorized)
		}
		data, err := rdb.Get(ctx, prefix+"data").Bytes()
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(data)
	})
	return app.Listen(os.Getenv("REF_LISTEN"))
}
