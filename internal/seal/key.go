package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// KeyFileName is the key file LoadKey keeps in the data directory in local
// mode.
const KeyFileName = "secret.key"

// keySyntax is what a key must look like, for error messages.
const keySyntax = "expected 32 random bytes in base64, e.g. from `openssl rand -base64 32`"

// ParseKey decodes a key given as base64 (standard, padded or not) of
// exactly KeySize bytes. Its errors never show the value.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New(keySyntax + " (not base64)")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%s (got %d bytes)", keySyntax, len(key))
	}
	return key, nil
}

// ParseKeys decodes a list of keys separated by commas or white space
// (a key file holds one per line), the sealing key first, each as
// ParseKey wants it. Its errors never show a value.
func ParseKeys(s string) ([][]byte, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		return nil, errors.New(keySyntax + " (got 0 bytes)")
	}
	keys := make([][]byte, len(fields))
	for i, f := range fields {
		key, err := ParseKey(f)
		if err != nil {
			if len(fields) > 1 {
				return nil, fmt.Errorf("key %d of %d: %w", i+1, len(fields), err)
			}
			return nil, err
		}
		keys[i] = key
	}
	return keys, nil
}

// LoadKey answers the keys secrets are sealed with, the sealing key
// first and then any previous ones still accepted for opening (during a
// key rotation). cfgKey is SWARMOPS_SECRET_KEY as configured (keys
// separated by commas); without it, the local store keeps a key file in
// dataDir, made on first start (created is then true, for the caller to
// log), and the redis store has no key: nil, and sealing is refused per
// request, since a key kept in Redis would protect nothing.
func LoadKey(cfgKey, store, dataDir string) (keys [][]byte, created bool, err error) {
	if cfgKey != "" {
		keys, err := ParseKeys(cfgKey)
		if err != nil {
			return nil, false, fmt.Errorf("SWARMOPS_SECRET_KEY: %w", err)
		}
		return keys, false, nil
	}
	switch store {
	case "redis":
		return nil, false, nil
	case "local":
		return loadKeyFile(filepath.Join(dataDir, KeyFileName))
	}
	return nil, false, fmt.Errorf("secret key: unknown store %q", store)
}

// loadKeyFile reads the key file at path, creating it when absent.
func loadKeyFile(path string) ([][]byte, bool, error) {
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if err := createKeyFile(path); errors.Is(err, fs.ErrExist) {
		// Another process made it first: use theirs.
		key, err := readKeyFile(path)
		return key, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("create secret key file %s: %w", path, err)
	}
	key, err = readKeyFile(path)
	return key, err == nil, err
}

func readKeyFile(path string) ([][]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret key file %s has mode %04o: it must not be readable or writable by group or others "+
			"(it decrypts every stored secret); run chmod 600 %s", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	keys, err := ParseKeys(string(data))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return keys, nil
}

// createKeyFile writes a new random key to path, mode 0600, atomically,
// never replacing a key file already there (the error is then
// fs.ErrExist).
func createKeyFile(path string) error {
	key, err := NewKey()
	if err != nil {
		return err
	}
	return writeKeyFile(path, [][]byte{key}, os.Link)
}

// NewKey answers a new random key.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, nil
}

// EncodeKey answers key as ParseKey reads it.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// ReplaceKeyFile writes keys (the sealing key first) to the key file at
// path, replacing it atomically: a crash leaves the old file or the new
// one, never a mix.
func ReplaceKeyFile(path string, keys [][]byte) error {
	return writeKeyFile(path, keys, os.Rename)
}

// writeKeyFile writes keys, one per line, in full under a temporary name
// in path's directory, durably, then puts it in place with place (link:
// never over an existing file; rename: replacing it).
func writeKeyFile(path string, keys [][]byte, place func(oldpath, newpath string) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, KeyFileName+".new-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; Chmod says so for readers.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	var text strings.Builder
	for _, k := range keys {
		text.WriteString(EncodeKey(k) + "\n")
	}
	if _, err := tmp.WriteString(text.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := place(tmp.Name(), path); err != nil {
		return err
	}
	// The key must outlive a power cut as surely as what it seals: make
	// its directory entry durable too.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
