package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

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

// ErrWrongKey is wrapped by Open's error when the blob was sealed with
// another key than the Box's.
var ErrWrongKey = errors.New("the key does not match")

// Box seals and opens secrets with one key. A nil *Box is valid and
// answers ErrNoKey.
type Box struct {
	aead cipher.AEAD
	id   [keyIDSize]byte
}

// New answers a Box sealing with key, which must be exactly KeySize bytes.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key: %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, nonceSize)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	b := &Box{aead: aead}
	sum := sha256.Sum256(key)
	copy(b.id[:], sum[:keyIDSize])
	return b, nil
}

// KeyID answers the key's id in hex ("" for a nil Box), safe to log: it
// lets operators check that every instance has the same key.
func (b *Box) KeyID() string {
	if b == nil {
		return ""
	}
	return hex.EncodeToString(b.id[:])
}

// Seal answers plain encrypted under a fresh random nonce.
func (b *Box) Seal(plain []byte) ([]byte, error) {
	if b == nil {
		return nil, ErrNoKey
	}
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(plain)+b.aead.Overhead())
	out[0] = version
	copy(out[1:headerSize], b.id[:])
	nonce := out[headerSize:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	// The header is authenticated too: a blob whose key id was edited
	// does not open.
	return b.aead.Seal(out, nonce, plain, out[:headerSize]), nil
}

// Open answers the plain text of a blob Seal made with the same key. A
// blob sealed with another key fails with ErrWrongKey; a damaged one fails
// without saying more.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	if b == nil {
		return nil, ErrNoKey
	}
	if len(sealed) < headerSize+nonceSize+b.aead.Overhead() {
		return nil, fmt.Errorf("open sealed secret: %d bytes is too short to be sealed data", len(sealed))
	}
	if sealed[0] != version {
		return nil, fmt.Errorf("open sealed secret: unknown format version %d", sealed[0])
	}
	header, id := sealed[:headerSize], sealed[1:headerSize]
	if !bytes.Equal(id, b.id[:]) {
		return nil, fmt.Errorf("open sealed secret: sealed with key id %x, SWARMOPS_SECRET_KEY has key id %x: %w",
			id, b.id[:], ErrWrongKey)
	}
	nonce, ciphertext := sealed[headerSize:headerSize+nonceSize], sealed[headerSize+nonceSize:]
	plain, err := b.aead.Open(nil, nonce, ciphertext, header)
	if err != nil {
		return nil, errors.New("open sealed secret: the data is corrupt or was tampered with")
	}
	return plain, nil
}
