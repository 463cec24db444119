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

// LoadKey answers the key secrets are sealed with. cfgKey is
// SWARMOPS_SECRET_KEY as configured; without it, the local store keeps a
// key file in dataDir, made on first start (created is then true, for the
// caller to log), and the redis store has no key: nil, and sealing is
// refused per request, since a key kept in Redis would protect nothing.
func LoadKey(cfgKey, store, dataDir string) (key []byte, created bool, err error) {
	if cfgKey != "" {
		key, err := ParseKey(cfgKey)
		if err != nil {
			return nil, false, fmt.Errorf("SWARMOPS_SECRET_KEY: %w", err)
		}
		return key, false, nil
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
func loadKeyFile(path string) ([]byte, bool, error) {
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

func readKeyFile(path string) ([]byte, error) {
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
	key, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new random key to path, mode 0600, atomically:
// written in full under a temporary name, then linked into place, so a
// crash never leaves a half-written key and a key file already there is
// never replaced (the error is then fs.ErrExist).
func createKeyFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
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
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
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
	if err := os.Link(tmp.Name(), path); err != nil {
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
