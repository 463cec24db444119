package seal

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

func newBox(t *testing.T, key []byte) *Box {
	t.Helper()
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSeal_RoundTrip(t *testing.T) {
	key := newKey(t)
	b := newBox(t, key)
	for _, tc := range []struct {
		name  string
		plain []byte
	}{
		{"empty", []byte{}},
		{"text", []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE...\n-----END EC PRIVATE KEY-----\n")},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe, 0}},
		{"large", bytes.Repeat([]byte("secret "), 100000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := b.Seal(tc.plain)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.plain) > 6 && bytes.Contains(sealed, tc.plain[:7]) {
				t.Error("the sealed data holds the plain text")
			}
			sum := sha256.Sum256(key)
			if sealed[0] != 1 || !bytes.Equal(sealed[1:5], sum[:4]) {
				t.Errorf("header % x, want version 1 and key id % x", sealed[:5], sum[:4])
			}
			if want := 1 + 4 + 12 + len(tc.plain) + 16; len(sealed) != want {
				t.Errorf("sealed length %d, want %d", len(sealed), want)
			}
			// Another Box of the same key (another instance) opens it.
			got, err := newBox(t, bytes.Clone(key)).Open(sealed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.plain) {
				t.Errorf("Open answered %d bytes, not the %d sealed", len(got), len(tc.plain))
			}
		})
	}
}

func TestSeal_FreshNonce(t *testing.T) {
	b := newBox(t, newKey(t))
	one, err := b.Seal([]byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := b.Seal([]byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(one[5:17], two[5:17]) || bytes.Equal(one, two) {
		t.Error("two seals of the same text share their nonce")
	}
}

func TestOpen_Tampered(t *testing.T) {
	b := newBox(t, newKey(t))
	sealed, err := b.Seal([]byte("registry password"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func([]byte) []byte
		want   string
	}{
		{"nonce", func(s []byte) []byte { s[6] ^= 1; return s }, "corrupt or was tampered with"},
		{"ciphertext", func(s []byte) []byte { s[20] ^= 0x80; return s }, "corrupt or was tampered with"},
		{"tag", func(s []byte) []byte { s[len(s)-1] ^= 1; return s }, "corrupt or was tampered with"},
		{"appended", func(s []byte) []byte { return append(s, 0) }, "corrupt or was tampered with"},
		{"truncated", func(s []byte) []byte { return s[:len(s)-1] }, "corrupt or was tampered with"},
		{"too short", func(s []byte) []byte { return s[:20] }, "too short"},
		{"nothing", func([]byte) []byte { return nil }, "too short"},
		{"version", func(s []byte) []byte { s[0] = 2; return s }, "unknown format version 2"},
		{"key id", func(s []byte) []byte { s[1] ^= 1; return s }, "the key does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain, err := b.Open(tc.change(bytes.Clone(sealed)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %q, %v; want an error saying %q", plain, err, tc.want)
			}
			if plain != nil {
				t.Errorf("Open answered %q along with its error", plain)
			}
		})
	}
}

func TestOpen_WrongKey(t *testing.T) {
	right, wrong := newKey(t), newKey(t)
	sealed, err := newBox(t, right).Seal([]byte("tls key"))
	if err != nil {
		t.Fatal(err)
	}
	w := newBox(t, wrong)
	_, err = w.Open(sealed)
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another key: %v, want ErrWrongKey", err)
	}
	r := newBox(t, right)
	for _, id := range []string{r.KeyID(), w.KeyID()} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not name key id %s", err, id)
		}
	}
	if strings.Contains(err.Error(), "tls key") {
		t.Errorf("error shows the secret: %v", err)
	}
}

func TestBox_Nil(t *testing.T) {
	var b *Box
	_, err := b.Seal([]byte("x"))
	if err != ErrNoKey {
		t.Fatalf("nil Box Seal: %v, want ErrNoKey", err)
	}
	pub, ok := errs.Public(err)
	if !ok || !errors.Is(err, errs.ErrInvalid) || pub.Field != "SWARMOPS_SECRET_KEY" ||
		!strings.Contains(pub.Message, "openssl rand -base64 32") || !strings.Contains(pub.Message, "the same on every instance") {
		t.Errorf("nil Box Seal: %#v, want a 400 naming SWARMOPS_SECRET_KEY and how to make one", pub)
	}
	if _, err := b.Open([]byte("x")); err != ErrNoKey {
		t.Errorf("nil Box Open: %v, want ErrNoKey", err)
	}
	if b.KeyID() != "" {
		t.Errorf("nil Box KeyID = %q", b.KeyID())
	}
}

func TestNew_KeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key: no error", n)
		}
	}
	b := newBox(t, make([]byte, 32))
	if diff := cmp.Diff(b.KeyID(), "66687aad"); diff != "" {
		t.Errorf("KeyID of 32 zero bytes (-got +want): %s", diff)
	}
}

func TestBox_SeveralKeys(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	oldBox, err := New(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	rotating, err := New(newKey, oldKey, newKey)
	if err != nil {
		t.Fatal(err)
	}
	if ids := rotating.KeyIDs(); len(ids) != 2 || ids[0] != rotating.KeyID() || ids[1] != oldBox.KeyID() {
		t.Fatalf("KeyIDs = %v, want the new key's id then the old one's (%s)", ids, oldBox.KeyID())
	}
	sealedOld, _ := oldBox.Seal([]byte("under the old key"))
	if got, err := rotating.Open(sealedOld); err != nil || string(got) != "under the old key" {
		t.Fatalf("a box holding the old key as a previous one opens %q, %v", got, err)
	}
	sealedNew, _ := rotating.Seal([]byte("under the new key"))
	if id, err := KeyIDOf(sealedNew); err != nil || id != rotating.KeyID() {
		t.Errorf("KeyIDOf(sealed by the rotating box) = %q, %v; want the new key's id %s", id, err, rotating.KeyID())
	}
	_, err = oldBox.Open(sealedNew)
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), rotating.KeyID()) {
		t.Errorf("the old box opening a blob of the new key: %v, want ErrWrongKey naming key id %s", err, rotating.KeyID())
	}
	if !rotating.Has(oldBox.KeyID()) || oldBox.Has(rotating.KeyID()) || rotating.Has("zz") {
		t.Error("Has does not tell which keys a box holds")
	}
	if _, err := KeyIDOf([]byte("plain")); err == nil {
		t.Error("KeyIDOf of plain text: no error")
	}
}

func TestBox_Digest(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte{1}, 32))
	b, _ := New(bytes.Repeat([]byte{2}, 32))
	var none *Box
	body := []byte(`{"tls":{"key":"-----BEGIN PRIVATE KEY-----"}}`)
	da, db, dn := a.Digest([]byte("POST"), body), b.Digest([]byte("POST"), body), none.Digest([]byte("POST"), body)
	if da == db || da == dn || len(da) != 64 {
		t.Errorf("digests under two keys and none: %s %s %s; want three different 64-hex digests", da, db, dn)
	}
	if da != a.Digest([]byte("POST"), body) {
		t.Error("the same parts under the same key digest differently")
	}
	if a.Digest([]byte("ab"), []byte("c")) == a.Digest([]byte("a"), []byte("bc")) {
		t.Error("part boundaries do not count")
	}
	sum := sha256.Sum256(body)
	if strings.Contains(da, hex.EncodeToString(sum[:])) {
		t.Error("the keyed digest contains the plain SHA-256 of the body")
	}
}
