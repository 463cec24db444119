package stack

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/convert"
	interp "github.com/docker/cli/cli/compose/interpolation"
	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/schema"
	"github.com/docker/cli/cli/compose/template"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// Source is what a deploy carries: the compose file, the variables it is
// interpolated with, and the files its env_file, secrets and configs name.
type Source struct {
	Compose string            `json:"compose"`
	Env     map[string]string `json:"env,omitempty"`
	Files   map[string]string `json:"files,omitempty"` // "./path" -> content
}

// Loaded is a compose file loaded and converted for one stack, ready for
// Deploy. Everything read from files is in memory: nothing on disk stays.
type Loaded struct {
	Name string
	// Warnings are the unsupported and deprecated options the file uses,
	// in the words the docker CLI prints them.
	Warnings []string
	// SecretFiles are the keys of Source.Files used as secret files
	// (sorted), so that a caller can store them sealed.
	SecretFiles []string

	config           *composetypes.Config
	namespace        convert.Namespace
	networks         map[string]network.CreateOptions // scoped name -> options
	externalNetworks []string
	secrets          []swarm.SecretSpec // file-based and driver secrets to create, by name
	configs          []swarm.ConfigSpec
}

// stackName is what a stack name may be: it prefixes every object name of
// the stack, and engines accept these characters in all of them. (The CLI
// only refuses empty names; a stricter rule here keeps names usable in
// URLs and labels.)
var stackName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func validateName(name string) error {
	if name == "" {
		return errs.Invalid("name", "a stack needs a name")
	}
	if len(name) > 63 || !stackName.MatchString(name) {
		return errs.Invalid("name", "invalid stack name %q: use at most 63 lowercase letters, digits, '-' and '_', starting with a letter or digit", name)
	}
	return nil
}

// Load loads src's compose file for the stack name the way `docker stack
// deploy -c` does (loader.LoadComposefile, then the conversions of
// deployCompose that need no engine), with two differences that keep the
// SwarmOps host out of it: variables come from src.Env only (never this
// process's environment), and every file the loader or converter reads
// (env_file, secret and config files) must be one of src.Files, written
// for the loader into a private temporary directory that is gone when Load
// returns. Anything the CLI would refuse is an errs.ErrInvalid with its
// message.
func Load(name string, src Source) (*Loaded, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	dict, err := loader.ParseYAML([]byte(src.Compose))
	if err != nil {
		return nil, errs.Invalid("compose", "%s", err)
	}
	files, err := cleanFiles(src.Files)
	if err != nil {
		return nil, err
	}
	env := maps.Clone(src.Env)
	if env == nil {
		env = map[string]string{}
	}
	envFiles, err := checkHostReads(dict, env, files)
	if err != nil {
		return nil, err
	}
	dir, err := writeFiles(files, envFiles, env)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	cfg, err := loader.Load(composetypes.ConfigDetails{
		Version:     schema.Version(dict),
		WorkingDir:  dir,
		ConfigFiles: []composetypes.ConfigFile{{Filename: "compose.yaml", Config: dict}},
		Environment: env,
	})
	if err != nil {
		return nil, loaderError(err, dir)
	}
	// The env files held the request's variables for the loader (see
	// envFileForLoader); a secret or config made of the same file must get
	// the file as sent.
	for key := range envFiles {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(key)), []byte(files[key].content), 0o600); err != nil {
			return nil, fmt.Errorf("load stack %s: rewrite %s: %w", name, key, err)
		}
	}
	if err := checkImages(cfg); err != nil {
		return nil, err
	}
	if err := checkResolvedPaths(cfg, dir, files); err != nil {
		return nil, err
	}

	l := &Loaded{
		Name:        name,
		Warnings:    warnings(dict),
		SecretFiles: secretFiles(cfg, dir, files),
		config:      cfg,
		namespace:   convert.NewNamespace(name),
	}
	l.networks, l.externalNetworks = convert.Networks(l.namespace, cfg.Networks, declaredNetworks(cfg.Services))
	sort.Strings(l.externalNetworks)
	if l.secrets, err = convert.Secrets(l.namespace, cfg.Secrets); err != nil {
		return nil, errs.Invalid("compose", "%s", hidePath(err.Error(), dir))
	}
	slices.SortFunc(l.secrets, func(a, b swarm.SecretSpec) int { return strings.Compare(a.Name, b.Name) })
	if l.configs, err = convert.Configs(l.namespace, cfg.Configs); err != nil {
		return nil, errs.Invalid("compose", "%s", hidePath(err.Error(), dir))
	}
	slices.SortFunc(l.configs, func(a, b swarm.ConfigSpec) int { return strings.Compare(a.Name, b.Name) })
	return l, nil
}

// declaredNetworks is the CLI's getServicesDeclaredNetworks: the networks
// services attach to, "default" for a service that names none.
func declaredNetworks(services []composetypes.ServiceConfig) map[string]struct{} {
	out := map[string]struct{}{}
	for _, s := range services {
		if len(s.Networks) == 0 {
			out["default"] = struct{}{}
			continue
		}
		for nw := range s.Networks {
			out[nw] = struct{}{}
		}
	}
	return out
}

// requestFile is one of Source.Files under its cleaned path.
type requestFile struct {
	key     string // as the request spelled it
	content string
}

// cleanFiles answers the request's files by cleaned relative path.
func cleanFiles(in map[string]string) (map[string]requestFile, error) {
	out := make(map[string]requestFile, len(in))
	for _, key := range slices.Sorted(maps.Keys(in)) {
		p, err := relativePath(key)
		if err != nil {
			return nil, errs.Invalid("files", "file %q: %s", key, err)
		}
		if prev, ok := out[p]; ok {
			return nil, errs.Invalid("files", "files %q and %q are the same file", prev.key, key)
		}
		out[p] = requestFile{key: key, content: in[key]}
	}
	// "a" and "a/b" cannot both be files.
	for p, f := range out {
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if d, ok := out[dir]; ok {
				return nil, errs.Invalid("files", "file %q is also the directory of %q", d.key, f.key)
			}
		}
	}
	return out, nil
}

// relativePath cleans a path the compose file or the request names; it
// must stay inside the directory of the compose file.
func relativePath(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("the path is empty")
	case path.IsAbs(p) || filepath.IsAbs(p) || isWindowsAbs(p):
		return "", errors.New("the path is absolute; name a file of the request by a relative path such as ./file")
	}
	c := path.Clean(p)
	switch {
	case c == "..", strings.HasPrefix(c, "../"):
		return "", errors.New("the path leaves the compose file's directory")
	case c == ".":
		return "", errors.New("the path names no file")
	}
	return c, nil
}

// isWindowsAbs reports a path absolute on Windows ("C:\x", "\\host\x"),
// which the loader also keeps as it is.
func isWindowsAbs(p string) bool {
	if strings.HasPrefix(p, `\\`) {
		return true
	}
	return len(p) >= 3 && unicode.IsLetter(rune(p[0])) && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
}

// checkHostReads refuses a compose file that would make the loader or the
// converter read the SwarmOps host's disk: each env_file, secret file and
// config file must be one of the request's files, and bind sources must
// be absolute (the CLI resolves relative ones against its own directory,
// which means nothing on the nodes). It looks at the file interpolated
// from env, as the loader will see it, and answers the files used as
// env_file.
func checkHostReads(dict map[string]any, env map[string]string, files map[string]requestFile) (map[string]bool, error) {
	idict, err := interp.Interpolate(dict, interp.Options{
		LookupValue: lookup(env),
		Substitute:  template.Substitute,
	})
	if err != nil {
		// The loader interpolates with the same function before it reads
		// any file, and fails the same way.
		return nil, errs.Invalid("compose", "%s", err)
	}
	envFiles := map[string]bool{}
	services, _ := idict["services"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(services)) {
		svc, _ := services[name].(map[string]any)
		for _, f := range stringList(svc["env_file"]) {
			key, err := requestFileOf(f, files)
			if err != nil {
				return nil, errs.Invalid("files", "service %s reads env_file %s%s", name, f, err)
			}
			envFiles[key] = true
		}
		if err := checkBinds(name, svc["volumes"], env); err != nil {
			return nil, err
		}
	}
	for _, kind := range []string{"secret", "config"} {
		objs, _ := idict[kind+"s"].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(objs)) {
			obj, _ := objs[name].(map[string]any)
			f, ok := obj["file"]
			if !ok {
				continue
			}
			if _, err := requestFileOf(fmt.Sprint(f), files); err != nil {
				return nil, errs.Invalid("files", "%s %s reads file %v%s", kind, name, f, err)
			}
		}
	}
	return envFiles, nil
}

// requestFileOf answers the cleaned path of the request's file that p
// names, or an error to append to "X reads file p".
func requestFileOf(p string, files map[string]requestFile) (string, error) {
	key, err := relativePath(p)
	if err != nil {
		return "", fmt.Errorf(": %s", err)
	}
	if _, ok := files[key]; !ok {
		return "", errors.New(", which the request's files do not carry")
	}
	return key, nil
}

// stringList reads a string-or-list value of the compose file.
func stringList(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	default:
		return []string{fmt.Sprint(v)}
	}
}

// checkBinds refuses relative bind sources of a service's volumes.
func checkBinds(service string, volumes any, env map[string]string) error {
	list, _ := volumes.([]any)
	for _, v := range list {
		var typ, source string
		switch v := v.(type) {
		case string:
			vc, err := loader.ParseVolume(v)
			if err != nil {
				continue // the loader says what is wrong with it
			}
			typ, source = vc.Type, vc.Source
		case map[string]any:
			typ, _ = v["type"].(string)
			source, _ = v["source"].(string)
		}
		if typ != "bind" || source == "" {
			continue
		}
		// The loader expands "~" with HOME from the same variables.
		expanded := source
		if home, ok := env["HOME"]; ok && strings.HasPrefix(source, "~") {
			expanded = strings.Replace(source, "~", home, 1)
		}
		if !path.IsAbs(expanded) && !isWindowsAbs(expanded) {
			return errs.Invalid("compose", "service %s: bind source %s is relative; give an absolute path on the nodes", service, source)
		}
	}
	return nil
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// writeFiles writes the request's files into a new private directory for
// the loader. Memory-backed /dev/shm is preferred, so secret contents do
// not reach a disk.
func writeFiles(files map[string]requestFile, envFiles map[string]bool, env map[string]string) (string, error) {
	dir, err := os.MkdirTemp("/dev/shm", "swarmops-stack-")
	if err != nil {
		if dir, err = os.MkdirTemp("", "swarmops-stack-"); err != nil {
			return "", fmt.Errorf("load stack: temporary directory: %w", err)
		}
	}
	for key, f := range files {
		content := f.content
		if envFiles[key] {
			if content, err = envFileForLoader(content, env); err != nil {
				os.RemoveAll(dir)
				return "", errs.Invalid("env", "env_file %s: %s", f.key, err)
			}
		}
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("load stack: write %s: %w", f.key, err)
		}
		if err := writeNew(p, content); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("load stack: write %s: %w", f.key, err)
		}
	}
	return dir, nil
}

func writeNew(p, content string) error {
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.WriteString(content)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// envFileForLoader gives an env file the request's variables. The CLI
// fills a line "KEY" (no "=") of an env file from its own process
// environment (kvfile.Parse with os.LookupEnv); in SwarmOps that would be
// the server's environment, its secrets included. So such lines are
// written out as "KEY=value" from env, or dropped when env has no KEY,
// which is what the CLI does with a variable its environment lacks. The
// loader's parser (pkg/kvfile) is followed line by line: BOM, leading
// space, comments, CRLF.
func envFileForLoader(content string, env map[string]string) (string, error) {
	var b strings.Builder
	for i, raw := range strings.SplitAfter(content, "\n") {
		line := strings.TrimSuffix(strings.TrimSuffix(raw, "\n"), "\r")
		if i == 0 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		line = strings.TrimLeftFunc(line, unicode.IsSpace)
		if line == "" || line[0] == '#' || strings.Contains(line, "=") || strings.ContainsAny(line, " \t") {
			b.WriteString(raw) // the parser takes (or refuses) it as it is
			continue
		}
		v, ok := env[line]
		if !ok {
			continue
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("variable %s holds a line break, which an env file cannot carry", line)
		}
		b.WriteString(line + "=" + v + "\n")
	}
	return b.String(), nil
}

// loaderError is a loader failure as the CLI reports it, without the
// temporary directory's name.
func loaderError(err error, dir string) error {
	var fpe *loader.ForbiddenPropertiesError
	if errors.As(err, &fpe) {
		// The CLI's LoadComposefile formats this one itself (multi-line).
		return errs.Invalid("compose", "Compose file contains unsupported options:\n\n%s", propertyWarnings(fpe.Properties))
	}
	return errs.Invalid("compose", "%s", hidePath(err.Error(), dir))
}

// hidePath writes paths inside the temporary directory as the compose
// file names them, relative to itself.
func hidePath(msg, dir string) string {
	msg = strings.ReplaceAll(msg, dir+string(filepath.Separator), "./")
	return strings.ReplaceAll(msg, dir, ".")
}

// propertyWarnings is the CLI's: "name: description" lines, sorted,
// separated by blank lines.
func propertyWarnings(properties map[string]string) string {
	msgs := make([]string, 0, len(properties))
	for name, description := range properties {
		msgs = append(msgs, fmt.Sprintf("%s: %s", name, description))
	}
	sort.Strings(msgs)
	return strings.Join(msgs, "\n\n")
}

// warnings are what the CLI's LoadComposefile prints on stderr about the
// file (as parsed, before interpolation), without its trailing blank
// lines. The CLI's other remarks (deprecated external.name) go through
// its global logger and are not collected.
func warnings(dict map[string]any) []string {
	out := []string{}
	if u := loader.GetUnsupportedProperties(dict); len(u) > 0 {
		out = append(out, "Ignoring unsupported options: "+strings.Join(u, ", "))
	}
	if d := loader.GetDeprecatedProperties(dict); len(d) > 0 {
		out = append(out, "Ignoring deprecated options:\n\n"+propertyWarnings(d))
	}
	return out
}

// checkImages is the CLI's check that each service has a valid image
// reference (in service name order, so the answer does not vary).
func checkImages(cfg *composetypes.Config) error {
	for _, svc := range sortedServices(cfg) {
		if svc.Image == "" {
			return errs.Invalid("compose", "invalid image reference for service %s: no image specified", svc.Name)
		}
		if _, err := reference.ParseAnyReference(svc.Image); err != nil {
			return errs.Invalid("compose", "invalid image reference for service %s: %s", svc.Name, err)
		}
	}
	return nil
}

func sortedServices(cfg *composetypes.Config) []composetypes.ServiceConfig {
	out := slices.Clone(cfg.Services)
	slices.SortFunc(out, func(a, b composetypes.ServiceConfig) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// inside reports whether p is dir or below it.
func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// checkResolvedPaths checks again, on the loaded file, what
// checkHostReads checked on the text: every path the loader resolved for
// reading is a request file inside dir, and no bind source was resolved
// against dir (a relative one).
func checkResolvedPaths(cfg *composetypes.Config, dir string, files map[string]requestFile) error {
	isRequestFile := func(p string) bool {
		if !inside(dir, p) {
			return false
		}
		rel, _ := filepath.Rel(dir, p)
		_, ok := files[filepath.ToSlash(rel)]
		return ok
	}
	for _, svc := range sortedServices(cfg) {
		for _, f := range svc.EnvFile {
			p := f
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			if !isRequestFile(p) {
				return errs.Invalid("files", "service %s reads env_file %s, which the request's files do not carry", svc.Name, f)
			}
		}
		for _, v := range svc.Volumes {
			if v.Type == "bind" && inside(dir, v.Source) {
				return errs.Invalid("compose", "service %s: bind source %s is relative; give an absolute path on the nodes", svc.Name, hidePath(v.Source, dir))
			}
		}
	}
	check := func(kind, name string, obj composetypes.FileObjectConfig) error {
		if obj.External.External || obj.Driver != "" {
			return nil
		}
		if obj.File == dir || obj.File == "" {
			return errs.Invalid("compose", "%s %s: give it a file (or make it external)", kind, name)
		}
		if !isRequestFile(obj.File) {
			return errs.Invalid("files", "%s %s reads file %s, which the request's files do not carry", kind, name, hidePath(obj.File, dir))
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Secrets)) {
		if err := check("secret", name, composetypes.FileObjectConfig(cfg.Secrets[name])); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Configs)) {
		if err := check("config", name, composetypes.FileObjectConfig(cfg.Configs[name])); err != nil {
			return err
		}
	}
	return nil
}

// secretFiles answers the request's keys of the files secrets are made of.
func secretFiles(cfg *composetypes.Config, dir string, files map[string]requestFile) []string {
	set := map[string]bool{}
	for _, s := range cfg.Secrets {
		if s.External.External || s.Driver != "" || !inside(dir, s.File) {
			continue
		}
		rel, _ := filepath.Rel(dir, s.File)
		if f, ok := files[filepath.ToSlash(rel)]; ok {
			set[f.key] = true
		}
	}
	return append([]string{}, slices.Sorted(maps.Keys(set))...)
}
