package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/build"
)

// The test images every engine testenv starts has, built from
// testdata/hello without a registry. Both run the same binary; each answers
// GET / with {"hostname":..., "version":...} and its own version ("1" or
// "2"), so a rolling update is visible. Env HELLO_LINES=N prints N numbered
// lines at start; GET /exit?code=N exits. The images have no HEALTHCHECK: a
// service that wants one uses []string{"CMD", "/hello", "healthcheck"}.
const (
	HelloImage1 = "swarmops-test/hello:1"
	HelloImage2 = "swarmops-test/hello:2"
	// HelloPort is the port the hello server listens on in its container.
	HelloPort = 8080
)

var (
	helloOnce sync.Once
	helloBin  []byte
	helloErr  error
)

// helloBinary builds testdata/hello once per test process.
func helloBinary(base string) ([]byte, error) {
	helloOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			helloErr = err
			return
		}
		out := filepath.Join(base, "hello")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/hello")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			helloErr = fmt.Errorf("build testdata/hello: %v\n%s", err, b)
			return
		}
		helloBin, helloErr = os.ReadFile(out)
	})
	return helloBin, helloErr
}

// moduleRoot answers the directory of the main module's go.mod: `go env
// GOMOD` from the test's package directory, else the nearest go.mod above.
func moduleRoot() (string, error) {
	if out, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		if p := strings.TrimSpace(string(out)); p != "" && p != os.DevNull {
			return filepath.Dir(p), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// buildHello builds both hello images on the node, once.
func (n *Node) buildHello() error {
	n.imgOnce.Do(func() {
		bin, err := helloBinary(filepath.Dir(n.Dir))
		if err != nil {
			n.imgErr = err
			return
		}
		// :2 is :1 with another HELLO_VERSION: a tiny second build, and a
		// different image ID, as a new release would have.
		steps := []struct {
			ref, dockerfile string
			files           map[string]tarFile
		}{
			{HelloImage1, fmt.Sprintf("FROM scratch\nCOPY hello /hello\nENV HELLO_VERSION=1\nEXPOSE %d\n"+
				"LABEL org.swarmops.test=hello\nENTRYPOINT [\"/hello\"]\n", HelloPort),
				map[string]tarFile{"hello": {data: bin, mode: 0o755}}},
			{HelloImage2, "FROM " + HelloImage1 + "\nENV HELLO_VERSION=2\n", map[string]tarFile{}},
		}
		for _, st := range steps {
			ctx, err := tarContext(st.dockerfile, st.files)
			if err == nil {
				err = n.BuildImage(ctx, st.ref)
			}
			if err != nil {
				n.imgErr = fmt.Errorf("build %s on %s: %w", st.ref, n.Name, err)
				return
			}
		}
	})
	return n.imgErr
}

// BuildImage builds a Dockerfile build context (a tar stream, e.g. from
// ScratchImageContext) on the node, with the classic builder and without
// pulling, and tags the result with tags.
func (n *Node) BuildImage(buildContext io.Reader, tags ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := n.Client().ImageBuild(ctx, buildContext, build.ImageBuildOptions{
		Tags: tags, Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return jsonStreamError(resp.Body)
}

// LoadImage loads a `docker save` tar stream into the node's engine.
func (n *Node) LoadImage(r io.Reader) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := n.Client().ImageLoad(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return jsonStreamError(resp.Body)
}

// jsonStreamError reads an engine progress stream to its end and answers
// the first error it reports.
func jsonStreamError(r io.Reader) error {
	dec := json.NewDecoder(r)
	var logs []string
	for {
		var m struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if m.Stream != "" {
			logs = append(logs, m.Stream)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			m.Error = m.ErrorDetail.Message
		}
		if m.Error != "" {
			return fmt.Errorf("%s\n%s", m.Error, strings.Join(logs, ""))
		}
	}
}

type tarFile struct {
	data []byte
	mode int64
	dir  bool
}

// tarContext answers a build context with a Dockerfile and files.
func tarContext(dockerfile string, files map[string]tarFile) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files["Dockerfile"] = tarFile{data: []byte(dockerfile), mode: 0o644}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := files[name]
		h := &tar.Header{Name: name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if f.dir {
			h.Name, h.Typeflag, h.Size = name+"/", tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// ScratchImageContext answers a build context for a FROM scratch image that
// runs a host binary (a path, or a name looked up in PATH): the binary and
// the shared libraries `ldd` lists, at their host paths, an empty /tmp, and
// extraFiles (path in the image -> host file or directory), e.g. /etc/passwd
// for a server that looks up a user. The binary is the ENTRYPOINT.
//
//	bc, err := testenv.ScratchImageContext("redis-server", nil)
//	err = node.BuildImage(bc, "swarmops-test/redis:1")
func ScratchImageContext(binary string, extraFiles map[string]string) (io.Reader, error) {
	bin, err := exec.LookPath(binary)
	if err != nil {
		return nil, err
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	want := map[string]string{bin: bin} // image path -> host path
	libDirs := map[string]bool{}
	out, err := exec.Command("ldd", bin).Output()
	if err == nil { // a static binary makes ldd fail: no libraries then
		for _, line := range strings.Split(string(out), "\n") {
			// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
			// "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
			f := strings.Fields(line)
			var p string
			switch {
			case len(f) >= 3 && f[1] == "=>":
				p = f[2]
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				p = f[0]
			}
			if strings.HasPrefix(p, "/") {
				want[p] = p
				libDirs[path.Dir(p)] = true
			}
		}
	}
	for dst, src := range extraFiles {
		want[path.Clean("/"+dst)] = src
	}
	files := map[string]tarFile{"rootfs/tmp": {mode: 0o1777, dir: true}}
	for dst, src := range want {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := "rootfs" + path.Join(dst, strings.TrimPrefix(p, src))
			st, err := os.Stat(p) // follow symlinks: the image gets the content
			if err != nil {
				return err
			}
			if st.IsDir() {
				files[name] = tarFile{mode: int64(st.Mode().Perm()), dir: true}
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[name] = tarFile{data: data, mode: int64(st.Mode().Perm())}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("image file %s: %w", dst, err)
		}
	}
	dirs := make([]string, 0, len(libDirs))
	for d := range libDirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	entry, _ := json.Marshal([]string{bin})
	df := "FROM scratch\nCOPY rootfs/ /\n"
	if len(dirs) > 0 {
		// No ld.so.cache in the image: name the library directories.
		df += "ENV LD_LIBRARY_PATH=" + strings.Join(dirs, ":") + "\n"
	}
	df += "ENTRYPOINT " + string(entry) + "\n"
	return tarContext(df, files)
}
