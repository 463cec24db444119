package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// passwordsParsersMisread begin with characters that make a URL parser read
// the password as fragment, query or path (or end the host early).
var passwordsParsersMisread = []string{"#hunter2-a", "?hunter2-b", "/hunter2-c", "#hun@ter2-d", "hunter2-e/x#y"}

// TestRedactURL_ByConstruction: whatever the URL holds, what is shown is
// built of its safe parts and never contains the password.
func TestRedactURL_ByConstruction(t *testing.T) {
	for _, pw := range passwordsParsersMisread {
		for _, raw := range []string{
			"redis://:" + pw + "@cache.example:6379/0",
			"rediss://user:" + pw + "@10.0.0.5:6380/2",
			"unix://:" + pw + "@/run/redis/redis.sock?db=1",
			"redis://cache.example:6379:" + pw, // the original SwarmOps form, unconverted
		} {
			if got := RedactURL(raw); strings.Contains(got, "hunter2") {
				t.Errorf("RedactURL(%q) = %q shows the password", raw, got)
			}
		}
	}
	for raw, want := range map[string]string{
		"redis://cache.example:6379/0":           "redis://cache.example:6379/0",
		"redis://:s3cret@cache.example:6379/1":   "redis://xxxxx@cache.example:6379/1",
		"rediss://u:p@[::1]:6380/0":              "rediss://xxxxx@[::1]:6380/0",
		"unix:///run/redis.sock?db=2":            "unix:///run/redis.sock?db=…",
		"redis://host:6379:p@ss/x":               "redis://xxxxx@ss/<path>",
		"redis://host:6379:secret":               "redis://<host>",
		"redis://cache.example:6379/0?password=": "redis://cache.example:6379/0?password=…",
		"not a url":                              "<unreadable URL>",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestLoad_RedisPasswordParsersMisread: a Redis URL whose password begins
// with "#", "?" or "/" (not percent-encoded) is refused by a problem that
// does not show it, and appears neither in the usage of -h nor in the
// start-up line of a Config that holds it.
func TestLoad_RedisPasswordParsersMisread(t *testing.T) {
	for _, pw := range passwordsParsersMisread {
		raw := "redis://:" + pw + "@cache.example:6379/0"
		vars := map[string]string{"SWARMOPS_STORE": "redis", "SWARMOPS_REDIS_URL": raw}
		_, _, err := Load(nil, testEnv(vars, nil), &bytes.Buffer{})
		var p Problems
		if !errors.As(err, &p) {
			t.Errorf("%s: Load() = %v, want a problem (the host is lost to the password)", raw, err)
		} else if s := p.Error(); strings.Contains(s, "hunter2") || !strings.Contains(s, "SWARMOPS_REDIS_URL") || !strings.Contains(s, "percent-encode") {
			t.Errorf("%s: problem %q, want one naming SWARMOPS_REDIS_URL, saying to percent-encode, without the password", raw, s)
		}

		var usage bytes.Buffer
		if _, _, err := Load([]string{"-h"}, testEnv(vars, nil), &usage); !errors.Is(err, ErrHelp) {
			t.Errorf("-h: %v", err)
		}
		if strings.Contains(usage.String(), "hunter2") {
			t.Errorf("-h shows the password:\n%s", usage.String())
		}

		// A Config built by code (not Load) still prints no password.
		c := Config{Store: "redis", RedisURL: raw}
		if s := c.String(); strings.Contains(s, "hunter2") {
			t.Errorf("String() shows the password: %s", s)
		}
	}
	// Percent-encoded, the same passwords are accepted and not shown.
	vars := map[string]string{"SWARMOPS_STORE": "redis", "SWARMOPS_REDIS_URL": "redis://:%23hunter2%3F%2F@cache.example:6379/0"}
	c, _, err := Load(nil, testEnv(vars, nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("percent-encoded password: %v", err)
	}
	if s := c.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, "redis-url=redis://xxxxx@cache.example:6379/0") {
		t.Errorf("String() = %s", s)
	}
}
