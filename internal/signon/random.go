package signon

import (
	"crypto/rand"
	"encoding/base64"
)

// randomText answers 32 random bytes, URL-safe.
func randomText() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
