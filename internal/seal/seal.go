package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/swarmops/swarmops/internal/errs"
)

const (
	// KeySize is the length of a key: AES-256.
	KeySize = 32
	// version is the first byte of every sealed blob; a later format gets
	// another.
	version   = 1
	keyIDSize = 4
	nonceSize = 12
	// headerSize is what precedes the nonce: version and key id.
	headerSize = 1 + keyIDSize
)

// ErrNoKey is what a nil *Box answers: no SWARMOPS_SECRET_KEY is
// configured (redis mode), so secrets can be neither stored nor read. It
// is a 400 naming the variable, as the contract asks.
var ErrNoKey = errs.Invalid("SWARMOPS_SECRET_KEY",
	"storing a secret needs SWARMOPS_SECRET_KEY (32 random bytes in base64, e.g. `openssl rand -base64 32`), the same on every instance")

// ErrWrongKey is wrapped by Open's error when the blob was sealed with a
// key the Box does not have.
var ErrWrongKey = errors.New("the key does not match")

// Box seals with one key and opens with any of several: the keys given
// to New, the first of which seals. Holding the previous key as well lets
// instances keep serving while a key rotation re-seals what is stored. A
// nil *Box is valid and answers ErrNoKey.
type Box struct {
	keys []boxKey // keys[0] seals
}

type boxKey struct {
	aead cipher.AEAD
	id   [keyIDSize]byte
	// mac keys Digest; derived from the key, never the key itself.
	mac []byte
}

// New answers a Box sealing with keys[0] and opening with any of keys,
// each exactly KeySize bytes. A key given twice counts once.
func New(keys ...[]byte) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("secret key: none given")
	}
	b := &Box{}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("secret key %d: %d bytes, want %d", i+1, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("secret key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCMWithNonceSize(block, nonceSize)
		if err != nil {
			return nil, fmt.Errorf("secret key %d: %w", i+1, err)
		}
		k := boxKey{aead: aead, mac: derive(key, "swarmops digest v1")}
		sum := sha256.Sum256(key)
		copy(k.id[:], sum[:keyIDSize])
		if b.key(k.id[:]) == nil {
			b.keys = append(b.keys, k)
		}
	}
	return b, nil
}

// key answers the Box's key of id, nil when it has none.
func (b *Box) key(id []byte) *boxKey {
	for i := range b.keys {
		if bytes.Equal(b.keys[i].id[:], id) {
			return &b.keys[i]
		}
	}
	return nil
}

// KeyID answers the sealing key's id in hex ("" for a nil Box), safe to
// log: it lets operators check that every instance has the same key.
func (b *Box) KeyID() string {
	if b == nil {
		return ""
	}
	return hex.EncodeToString(b.keys[0].id[:])
}

// KeyIDs answers the ids of every key the Box opens with, the sealing
// key's first.
func (b *Box) KeyIDs() []string {
	if b == nil {
		return nil
	}
	ids := make([]string, len(b.keys))
	for i, k := range b.keys {
		ids[i] = hex.EncodeToString(k.id[:])
	}
	return ids
}

// Has reports whether the Box opens blobs sealed with the key of id (hex).
func (b *Box) Has(id string) bool {
	raw, err := hex.DecodeString(id)
	return err == nil && b != nil && b.key(raw) != nil
}

// KeyIDOf answers the id (hex) of the key that sealed blob, without
// opening it.
func KeyIDOf(sealed []byte) (string, error) {
	if len(sealed) < headerSize || sealed[0] != version {
		return "", errors.New("not sealed data")
	}
	return hex.EncodeToString(sealed[1:headerSize]), nil
}

// Seal answers plain encrypted with the sealing key under a fresh random
// nonce.
func (b *Box) Seal(plain []byte) ([]byte, error) {
	if b == nil {
		return nil, ErrNoKey
	}
	k := &b.keys[0]
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(plain)+k.aead.Overhead())
	out[0] = version
	copy(out[1:headerSize], k.id[:])
	nonce := out[headerSize:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	// The header is authenticated too: a blob whose key id was edited
	// does not open.
	return k.aead.Seal(out, nonce, plain, out[:headerSize]), nil
}

// Open answers the plain text of a blob Seal made with one of the Box's
// keys. A blob sealed with another key fails with ErrWrongKey; a damaged
// one fails without saying more.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	if b == nil {
		return nil, ErrNoKey
	}
	if len(sealed) < headerSize+nonceSize+b.keys[0].aead.Overhead() {
		return nil, fmt.Errorf("open sealed secret: %d bytes is too short to be sealed data", len(sealed))
	}
	if sealed[0] != version {
		return nil, fmt.Errorf("open sealed secret: unknown format version %d", sealed[0])
	}
	header, id := sealed[:headerSize], sealed[1:headerSize]
	k := b.key(id)
	if k == nil {
		return nil, fmt.Errorf("open sealed secret: sealed with key id %x, SWARMOPS_SECRET_KEY has key id %s: %w",
			id, strings.Join(b.KeyIDs(), ", "), ErrWrongKey)
	}
	nonce, ciphertext := sealed[headerSize:headerSize+nonceSize], sealed[headerSize+nonceSize:]
	plain, err := k.aead.Open(nil, nonce, ciphertext, header)
	if err != nil {
		return nil, errors.New("open sealed secret: the data is corrupt or was tampered with")
	}
	return plain, nil
}

// derive answers a subkey of key for purpose, so no two uses share a key.
func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Digest answers a keyed digest (HMAC-SHA256 under a subkey of the sealing
// key) of parts, in hex: a stored digest of a request that carried a
// secret reveals nothing to whoever reads the store without the key. A
// nil Box (no key configured) answers a plain SHA-256. Parts are length
// prefixed, so ("ab","c") and ("a","bc") differ.
func (b *Box) Digest(parts ...[]byte) string {
	var h hash.Hash
	if b == nil {
		h = sha256.New()
	} else {
		h = hmac.New(sha256.New, b.keys[0].mac)
	}
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
