package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/store"
)

// Field names the key in errors: the HTTP header that carries it.
const Field = "Idempotency-Key"

const (
	// answerTTL is how long an answer is replayed.
	answerTTL = 24 * time.Hour
	// claimTTL bounds a claim to how long an operation may run, so a key
	// whose first request died with its instance frees itself.
	claimTTL = 15 * time.Minute
)

// Answer is the first answer given to a key.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// Keeper claims keys and keeps answers in the shared store, so a retry
// through any instance is answered once.
type Keeper struct {
	store store.Idempotency
	box   *seal.Box
}

// New makes a Keeper over st whose request fingerprints are keyed by box
// (SWARMOPS_SECRET_KEY; nil: plain SHA-256), so a fingerprint in the store
// tells nothing about a request body that carried a secret.
func New(st store.Idempotency, box *seal.Box) *Keeper { return &Keeper{store: st, box: box} }

// Fingerprint identifies a request by its method, URL and body. Every
// instance computes the same one (they share the key).
func (k *Keeper) Fingerprint(method, url string, body []byte) string {
	return method + " " + url + " " + k.box.Digest([]byte(method), []byte(url), body)
}

// ValidKey checks a key's syntax.
func ValidKey(key string) error {
	if key == "" || len(key) > 128 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return errs.Invalid(Field, "expected 1-128 visible ASCII characters, e.g. a UUID")
	}
	return nil
}

// storeKey scopes keys to their user: two users' keys never meet, whatever
// characters a user name (from a sign-in provider) or a key holds.
func storeKey(user, key string) string {
	sum := sha256.Sum256([]byte(user))
	return "idem:" + hex.EncodeToString(sum[:16]) + ":" + key
}

// Begin claims user's key for the request fingerprint fp. It answers
// first=true when the caller must act (then Finish or Abort), or the
// stored answer to replay. A key used for another request is invalid; one
// whose first request still runs is a conflict.
func (k *Keeper) Begin(ctx context.Context, user, key, fp string) (a Answer, first bool, err error) {
	if err := ValidKey(key); err != nil {
		return Answer{}, false, err
	}
	prev, first, err := k.store.BeginIdempotent(ctx, storeKey(user, key), fp, claimTTL)
	switch {
	case err != nil:
		return Answer{}, false, err
	case first:
		return Answer{}, true, nil
	case prev.Fingerprint != fp:
		return Answer{}, false, errs.Invalid(Field, "this key was used for another request; use a new key per request")
	case !prev.Done:
		return Answer{}, false, errs.Conflict("the first request with this %s is still running; retry later", Field)
	}
	return Answer{Status: prev.Status, ContentType: prev.ContentType, Body: prev.Body}, false, nil
}

// Finish keeps a for replay to retries of the same request.
func (k *Keeper) Finish(ctx context.Context, user, key, fp string, a Answer) error {
	return k.store.FinishIdempotent(ctx, storeKey(user, key), store.IdempotentResult{
		Status: a.Status, ContentType: a.ContentType, Body: a.Body, Fingerprint: fp, Done: true,
	}, answerTTL)
}

// Abort frees the key: nothing (or not certainly anything) was done, so a
// retry may act.
func (k *Keeper) Abort(ctx context.Context, user, key string) error {
	return k.store.AbortIdempotent(ctx, storeKey(user, key))
}
