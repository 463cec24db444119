package store

import "testing"

func TestKeepUnknown(t *testing.T) {
	type rec struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels,omitempty"`
		Secret string            `json:"-"`
		Plain  int
	}
	tests := []struct {
		name, prev, next, want string
	}{
		{"no previous record", ``, `{"name":"a"}`, `{"name":"a"}`},
		{"nothing unknown", `{"name":"old","labels":{"x":"y"}}`, `{"name":"a"}`, `{"name":"a"}`},
		{"unknown fields kept, sorted", `{"zz":[1,2],"name":"old","aa":{"b":null}}`, `{"name":"a","Plain":3}`,
			`{"name":"a","Plain":3,"aa":{"b":null},"zz":[1,2]}`},
		{"into an empty object", `{"new":true}`, `{}`, `{"new":true}`},
		{"a json:\"-\" name is not a field", `{"Secret":"kept","Plain":1}`, `{"name":"a","Plain":2}`, `{"name":"a","Plain":2,"Secret":"kept"}`},
		{"previous not an object", `[1]`, `{"name":"a"}`, `{"name":"a"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := KeepUnknown([]byte(tc.prev), []byte(tc.next), rec{})
			if err != nil || string(got) != tc.want {
				t.Fatalf("KeepUnknown(%s, %s) = %s, %v; want %s", tc.prev, tc.next, got, err, tc.want)
			}
		})
	}
	if _, err := KeepUnknown([]byte(`{"x":1}`), []byte(`"str"`), rec{}); err == nil {
		t.Error("KeepUnknown over a new value that is not an object: no error")
	}
}
