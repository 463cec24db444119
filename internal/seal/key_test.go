package seal

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb}, 32)
	tests := []struct {
		name, in string
		want     string // error substring; "" for success
	}{
		{"padded", base64.StdEncoding.EncodeToString(key), ""},
		{"unpadded", base64.RawStdEncoding.EncodeToString(key), ""},
		{"trailing newline", base64.StdEncoding.EncodeToString(key) + "\n", ""},
		{"url alphabet", base64.URLEncoding.EncodeToString(key), "not base64"},
		{"not base64", "correct horse battery staple!!", "not base64"},
		{"short", base64.StdEncoding.EncodeToString(key[:16]), "got 16 bytes"},
		{"long", base64.StdEncoding.EncodeToString(append(key, 1)), "got 33 bytes"},
		{"empty", "", "got 0 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(tc.in)
			if tc.want == "" {
				if err != nil || !bytes.Equal(got, key) {
					t.Fatalf("ParseKey = % x, %v; want the key", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "openssl rand -base64 32") {
				t.Fatalf("ParseKey: %v, want an error saying %q and the expected syntax", err, tc.want)
			}
			if tc.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
				t.Errorf("the error shows the value: %v", err)
			}
		})
	}
}

func TestLoadKey_Configured(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	dir := t.TempDir()
	for _, store := range []string{"local", "redis"} {
		got, created, err := LoadKey(base64.StdEncoding.EncodeToString(key), store, dir)
		if err != nil || created || len(got) != 1 || !bytes.Equal(got[0], key) {
			t.Errorf("LoadKey(key, %s) = % x, %v, %v; want the key, not created", store, got, created, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFileName)); !os.IsNotExist(err) {
		t.Errorf("a configured key still made a key file: %v", err)
	}
	for _, bad := range []string{"bm90IGEga2V5", "!!!"} {
		_, _, err := LoadKey(bad, "local", dir)
		if err == nil || !strings.Contains(err.Error(), "SWARMOPS_SECRET_KEY") || !strings.Contains(err.Error(), "32 random bytes in base64") {
			t.Errorf("LoadKey(%q): %v, want an error naming SWARMOPS_SECRET_KEY and the syntax", bad, err)
		}
	}
}

func TestLoadKey_RedisWithoutKey(t *testing.T) {
	dir := t.TempDir()
	key, created, err := LoadKey("", "redis", dir)
	if key != nil || created || err != nil {
		t.Fatalf("LoadKey(\"\", redis) = %v, %v, %v; want no key and no error", key, created, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("redis mode wrote %v into the data directory", entries)
	}
}

func TestLoadKey_LocalFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	keys, created, err := LoadKey("", "local", dir)
	if err != nil || !created || len(keys) != 1 || len(keys[0]) != KeySize {
		t.Fatalf("first LoadKey = %d keys, created %v, %v; want one new 32-byte key", len(keys), created, err)
	}
	key := keys[0]
	wantMode(t, dir, 0o700)
	path := filepath.Join(dir, KeyFileName)
	wantMode(t, path, 0o600)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data directory holds %v, want the key file only", entries)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.StdEncoding.EncodeToString(key) + "\n"; string(data) != got {
		t.Errorf("key file holds %q, want the key in base64", data)
	}

	again, created, err := LoadKey("", "local", dir)
	if err != nil || created || len(again) != 1 || !bytes.Equal(again[0], key) {
		t.Fatalf("second LoadKey = %v, %v; want the same key, not created", created, err)
	}
}

func TestLoadKey_LocalFileOnce(t *testing.T) {
	// Two starts at once (a restart overlapping a dying process) agree
	// on one key.
	dir := t.TempDir()
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		keys = map[string]int{}
		made int
	)
	for range n {
		wg.Go(func() {
			key, created, err := LoadKey("", "local", dir)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			keys[string(key[0])]++
			if created {
				made++
			}
		})
	}
	wg.Wait()
	if len(keys) != 1 || made != 1 {
		t.Errorf("%d distinct keys, %d created; want 1 and 1", len(keys), made)
	}
}

func TestLoadKey_LocalFileProblems(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
	}{
		{"group readable", good, 0o640, "must not be readable or writable by group or others"},
		{"world readable", good, 0o604, "chmod 600"},
		{"group writable", good, 0o620, "mode 0620"},
		{"not base64", "#!not a key", 0o600, "not base64"},
		{"wrong length", base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!")), 0o600, "got 16 bytes"},
		{"empty", "", 0o600, "got 0 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFileName)
			if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			key, created, err := LoadKey("", "local", dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("LoadKey = %d bytes, %v; want an error naming %s and saying %q", len(key), err, path, tc.want)
			}
			if created || key != nil {
				t.Errorf("LoadKey answered a key (created %v) with its error", created)
			}
			if strings.Contains(err.Error(), good) {
				t.Errorf("the error shows the key: %v", err)
			}
			data, _ := os.ReadFile(path)
			if string(data) != tc.content {
				t.Errorf("LoadKey changed the file to %q", data)
			}
		})
	}
}

func TestLoadKey_UnknownStore(t *testing.T) {
	if _, _, err := LoadKey("", "etcd", t.TempDir()); err == nil {
		t.Error("LoadKey for store etcd: no error")
	}
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}

func TestLoadKey_Several(t *testing.T) {
	one, two := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, sep := range []string{",", " , ", "\n", ",\n"} {
		got, _, err := LoadKey(EncodeKey(one)+sep+EncodeKey(two), "redis", t.TempDir())
		if err != nil || len(got) != 2 || !bytes.Equal(got[0], one) || !bytes.Equal(got[1], two) {
			t.Errorf("LoadKey(one%qtwo) = %d keys, %v; want one then two", sep, len(got), err)
		}
	}
	_, _, err := LoadKey(EncodeKey(one)+",bm90IGEga2V5", "redis", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "key 2 of 2") {
		t.Errorf("LoadKey with a bad second key: %v, want an error naming key 2 of 2", err)
	}

	// A key file rewritten by ReplaceKeyFile holds both, sealing key first.
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFileName)
	if err := ReplaceKeyFile(path, [][]byte{two, one}); err != nil {
		t.Fatal(err)
	}
	wantMode(t, path, 0o600)
	got, created, err := LoadKey("", "local", dir)
	if err != nil || created || len(got) != 2 || !bytes.Equal(got[0], two) || !bytes.Equal(got[1], one) {
		t.Fatalf("LoadKey after ReplaceKeyFile = %d keys, %v, %v; want two then one", len(got), created, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data directory holds %v after the replace, want the key file only", entries)
	}
}
