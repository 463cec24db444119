package redis

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/store"
)

// TestMemoClones: what the memo hands out shares nothing with what it
// keeps, and its clone functions know every field that could be shared:
// a field added to a record that holds a reference (slice, map, pointer)
// must be copied by the record's clone function, then listed here.
func TestMemoClones(t *testing.T) {
	cloned := map[reflect.Type][]string{
		reflect.TypeFor[store.Cluster](): {"Endpoints", "TLS", "Labels"},
		reflect.TypeFor[store.TLS]():     {"KeySealed"},
		reflect.TypeFor[store.User]():    {"PasswordHash"},
		reflect.TypeFor[store.Session](): nil,
	}
	for typ, want := range cloned {
		var refs []string
		for f := range typ.Fields() {
			switch f.Type.Kind() {
			case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface, reflect.Chan, reflect.Func:
				refs = append(refs, f.Name)
			case reflect.Struct:
				if f.Type != reflect.TypeFor[time.Time]() {
					refs = append(refs, f.Name+" (a struct: check its fields)")
				}
			}
		}
		if diff := cmp.Diff(want, refs); diff != "" {
			t.Errorf("%s: fields holding references changed (-cloned +now); update its clone function in memo.go:\n%s", typ, diff)
		}
	}

	m := newMemo(cloneCluster)
	text := `{"name":"prod","endpoints":["tcp://a:2375"],"tls":{"ca":"ca","key_sealed":"AQI="},"labels":{"env":"prod"}}`
	for range 2 { // decoded, then remembered
		c, err := m.decode(text)
		if err != nil {
			t.Fatal(err)
		}
		c.Endpoints[0], c.Labels["env"], c.TLS.CA, c.TLS.KeySealed[0] = "x", "x", "x", 9
	}
	c, err := m.decode(text)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Cluster{Name: "prod", Endpoints: []string{"tcp://a:2375"}, TLS: &store.TLS{CA: "ca", KeySealed: []byte{1, 2}}, Labels: map[string]string{"env": "prod"}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("remembered cluster changed by its callers (-want +got):\n%s", diff)
	}
	if _, err := m.decode(`{"name":`); err == nil {
		t.Error("a broken text decoded")
	}
}
