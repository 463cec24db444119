package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// MaxKeysPerUser is how many live keys (claims and answers kept for
// replay) one user may hold at once, counted across every instance. Past
// it a new key is refused with 429 until older answers expire, so no
// principal can fill the store with answers.
const MaxKeysPerUser = 1000

// fullRetry is the Retry-After of a refusal past MaxKeysPerUser.
const fullRetry = time.Minute

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

// owner names user in the store: the user's keys are counted together
// under it, whatever characters a user name (from a sign-in provider) holds.
func owner(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:16])
}

// storeKey scopes keys to their user: two users' keys never meet, whatever
// characters a user name or a key holds.
func storeKey(user, key string) string { return "idem:" + owner(user) + ":" + key }

// Begin claims user's key for the request fingerprint fp. It answers
// first=true when the caller must act (then Finish or Abort), or the
// stored answer to replay. A key used for another request is invalid; one
// whose first request still runs is a conflict. A new key of a user who
// holds MaxKeysPerUser live keys is refused (errs.ErrRateLimited).
func (k *Keeper) Begin(ctx context.Context, user, key, fp string) (a Answer, first bool, err error) {
	if err := ValidKey(key); err != nil {
		return Answer{}, false, err
	}
	prev, first, err := k.store.ClaimIdempotent(ctx, owner(user), storeKey(user, key), fp, claimTTL, MaxKeysPerUser)
	switch {
	case errors.Is(err, store.ErrTooManyKeys):
		e := errs.RateLimited(fullRetry, "you hold %d live %s keys, the most one user may; answers are kept for %s: "+
			"retry later, or send the request without %s", MaxKeysPerUser, Field, answerTTL, Field)
		e.Field = Field
		return Answer{}, false, e
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
	return k.store.FinishIdempotent(ctx, owner(user), storeKey(user, key), store.IdempotentResult{
		Status: a.Status, ContentType: a.ContentType, Body: a.Body, Fingerprint: fp, Done: true,
	}, answerTTL)
}

// Abort frees the key: nothing (or not certainly anything) was done, so a
// retry may act.
func (k *Keeper) Abort(ctx context.Context, user, key string) error {
	return k.store.AbortIdempotent(ctx, owner(user), storeKey(user, key))
}
