package form

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/cli/opts"
	"github.com/docker/docker/api/types/mount"
)

const mountSyntax = `expected --mount syntax like "type=volume,source=data,target=/data" or ` +
	`"type=bind,source=/srv,target=/srv,readonly" (types: volume, bind, tmpfs, npipe, cluster)`

// parseMount reads one mounts item with the CLI's --mount parser, after
// turning away what the parser would get wrong on a server (a relative
// source resolved against the server's directory) and what swarm would
// silently drop.
func parseMount(s string) (mount.Mount, error) {
	if err := checkItem(s); err != nil {
		return mount.Mount{}, err
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return mount.Mount{}, err
	}
	for _, f := range fields {
		key, val, _ := strings.Cut(f, "=")
		switch strings.ToLower(key) {
		case "source", "src":
			if strings.HasPrefix(val, ".") {
				return mount.Mount{}, fmt.Errorf("source %s is relative; give an absolute path (type=bind) or a volume name", quoteInput(val))
			}
		case "bind-nonrecursive":
			return mount.Mount{}, errors.New("bind-nonrecursive is deprecated; use bind-recursive=disabled")
		case "bind-recursive":
			if val == "writable" || val == "readonly" {
				return mount.Mount{}, fmt.Errorf("swarm services don't support bind-recursive=%s (only enabled or disabled)", val)
			}
		}
	}

	var opt opts.MountOpt
	if err := opt.Set(s); err != nil {
		return mount.Mount{}, err
	}
	m := opt.Value()[0]
	switch m.Type {
	case mount.TypeBind:
		if !isAbsPath(m.Source) {
			return m, errors.New("a bind mount's source must be an absolute path on the node")
		}
	case mount.TypeVolume:
		if isAbsPath(m.Source) {
			return m, errors.New("a volume's source is a volume name; use type=bind for a path on the node")
		}
	case mount.TypeTmpfs:
		if m.Source != "" {
			return m, errors.New("a tmpfs mount takes no source")
		}
	case mount.TypeNamedPipe:
		if m.Source == "" {
			return m, errors.New("an npipe mount needs a source")
		}
	case mount.TypeCluster:
	default:
		return m, fmt.Errorf("swarm services don't support mount type %s", quoteInput(string(m.Type)))
	}
	if m.TmpfsOptions != nil && m.TmpfsOptions.SizeBytes < 0 {
		return m, errors.New("tmpfs-size must not be negative")
	}
	if m.Type != mount.TypeNamedPipe && !isAbsPath(m.Target) {
		return m, fmt.Errorf("target %s must be an absolute path", quoteInput(m.Target))
	}
	return m, nil
}

// formatMount renders m in --mount syntax so that parseMount reads the same
// mount back. Empty volume and tmpfs options are kept by writing a neutral
// option, because the parser only creates them for an option.
func formatMount(m mount.Mount) string {
	f := []string{"type=" + string(m.Type)}
	if m.Source != "" {
		f = append(f, "source="+m.Source)
	}
	f = append(f, "target="+m.Target)
	if m.ReadOnly {
		f = append(f, "readonly")
	}
	if m.Consistency != "" {
		f = append(f, "consistency="+string(m.Consistency))
	}
	// An empty BindOptions is left out: the parser has no option that
	// makes one, and the engine reads it as no options.
	if b := m.BindOptions; b != nil {
		if b.Propagation != "" {
			f = append(f, "bind-propagation="+string(b.Propagation))
		}
		if b.NonRecursive {
			f = append(f, "bind-recursive=disabled")
		}
	}
	if v := m.VolumeOptions; v != nil {
		n := len(f)
		if v.Subpath != "" {
			f = append(f, "volume-subpath="+v.Subpath)
		}
		if v.NoCopy {
			f = append(f, "volume-nocopy")
		}
		for _, k := range slices.Sorted(maps.Keys(v.Labels)) {
			f = append(f, "volume-label="+k+"="+v.Labels[k])
		}
		if d := v.DriverConfig; d != nil {
			if d.Name != "" {
				f = append(f, "volume-driver="+d.Name)
			}
			for _, k := range slices.Sorted(maps.Keys(d.Options)) {
				f = append(f, "volume-opt="+k+"="+d.Options[k])
			}
		}
		if len(f) == n {
			f = append(f, "volume-nocopy=false")
		}
	}
	if t := m.TmpfsOptions; t != nil {
		f = append(f, "tmpfs-size="+cmp.Or(formatMemory(t.SizeBytes), "0"))
		if t.Mode != 0 {
			f = append(f, "tmpfs-mode="+strconv.FormatUint(uint64(t.Mode), 8))
		}
	}
	return joinCSV(f)
}

// applyMounts sets the mounts. Two mounts on one target are refused by the
// engine only when a task starts; say it now.
func (a *applier) applyMounts(items *[]string) {
	if items == nil {
		return
	}
	targets := map[string]int{}
	var mounts []mount.Mount
	for i, item := range *items {
		field := fmt.Sprintf("mounts[%d]", i)
		m, err := parseMount(item)
		if err != nil {
			a.invalid(field, "%v; %s", err, mountSyntax)
			continue
		}
		if j, dup := targets[m.Target]; dup {
			a.invalid(field, "target %s is also mounted by mounts[%d]", quoteInput(m.Target), j)
			continue
		}
		targets[m.Target] = i
		mounts = append(mounts, m)
	}
	a.container().Mounts = mounts
}

// joinCSV writes fields as one CSV record, quoting a field with a comma or
// a quote the way the CLI's parsers read it.
func joinCSV(fields []string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(fields) // a strings.Builder doesn't fail
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// checkItem rejects an empty item, and a newline in one: encoding/csv
// would read the first line and silently drop the rest.
func checkItem(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("empty item")
	}
	if strings.ContainsAny(s, "\r\n") {
		return errors.New("must be a single line")
	}
	return nil
}
