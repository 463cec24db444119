package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// randomText answers n random bytes, URL-safe base64 encoded.
func randomText(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashText is how cookie values and token texts are kept: a fast hash is
// right for 256-bit random values, which cannot be guessed.
func hashText(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// RandomPassword answers a password for a generated admin account.
func RandomPassword() string { return randomText(18) }
