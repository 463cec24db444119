package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// KeepUnknown answers next, a record as this build encodes it, with the
// top-level fields of prev (the record as stored) that this build's record
// type does not know, so an instance that rewrites a record keeps what a
// newer version added to it: during a rolling upgrade old and new
// instances share one store. v is a value of the record's type (only its
// type is read). Fields this build knows come from next alone: a known
// field next leaves out (omitempty) is gone, as it should be.
//
// Newer versions add fields at the top level of a record; a field added
// inside a nested object would not survive an older instance's rewrite.
// prev that is not a JSON object (or empty) keeps nothing.
func KeepUnknown(prev, next []byte, v any) ([]byte, error) {
	if len(bytes.TrimSpace(prev)) == 0 {
		return next, nil
	}
	var old map[string]json.RawMessage
	if err := json.Unmarshal(prev, &old); err != nil {
		return next, nil //nolint:nilerr // a stored value that is not an object has no fields to keep
	}
	known := knownFields(reflect.TypeOf(v))
	extra := make([]string, 0, len(old))
	for k := range old {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return next, nil
	}
	slices.Sort(extra)
	body := bytes.TrimSpace(next)
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return nil, fmt.Errorf("keep unknown fields: the new record is not a JSON object")
	}
	out := make([]byte, 0, len(body)+len(prev))
	out = append(out, body[:len(body)-1]...)
	empty := len(bytes.TrimSpace(body[1:len(body)-1])) == 0
	for _, k := range extra {
		if !empty {
			out = append(out, ',')
		}
		empty = false
		name, _ := json.Marshal(k)
		out = append(out, name...)
		out = append(out, ':')
		out = append(out, old[k]...)
	}
	return append(out, '}'), nil
}

// knownByType caches the JSON field names of record types.
var knownByType sync.Map // reflect.Type -> map[string]bool

// knownFields answers the top-level JSON names of struct type t (a pointer
// is followed), including those of embedded structs.
func knownFields(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if m, ok := knownByType.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	if t.Kind() == reflect.Struct {
		addFields(t, m)
	}
	knownByType.Store(t, m)
	return m
}

func addFields(t reflect.Type, m map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, m)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = true
	}
}
