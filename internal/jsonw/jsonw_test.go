package jsonw

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestSameAsEncodingJSON: each writer writes what encoding/json.Marshal
// writes for the same value, byte for byte, errors included.
func TestSameAsEncodingJSON(t *testing.T) {
	pieces := []string{
		"", "a", "web", "nginx:1.27@sha256:0123", "<script>", "a&b", `"quoted"`, `back\slash`, "tab\there", "new\nline",
		"\x00", "\x1f", "\x7f", "ü", "日本", "\u2028", "\u2029", "\xff", "\xed\xa0\x80", "\ufffd", "😀", "/",
		"ſ", "K", "mixed <a&b> \u2028 end\xff",
	}
	for _, s := range pieces {
		got := String(nil, s)
		want, _ := json.Marshal(s)
		if !bytes.Equal(got, want) {
			t.Errorf("string %q: %s, want %s", s, got, want)
		}
	}
	if got, want := Strings(nil, pieces), must(json.Marshal(pieces)); !bytes.Equal(got, want) {
		t.Errorf("strings: %s, want %s", got, want)
	}
	if got := Strings(nil, nil); string(got) != "null" {
		t.Errorf("nil strings: %s", got)
	}
	for _, m := range []map[string]string{nil, {}, {"a": "b"}, {"z": "1", "a": "<2>", "m": "\u2028", "": ""}} {
		if got, want := Labels(nil, m), must(json.Marshal(m)); !bytes.Equal(got, want) {
			t.Errorf("labels %v: %s, want %s", m, got, want)
		}
	}
	for _, b := range []bool{true, false} {
		if got, want := Bool(nil, b), must(json.Marshal(b)); !bytes.Equal(got, want) {
			t.Errorf("bool %v: %s, want %s", b, got, want)
		}
	}
	for _, f := range []float64{0, 1, -1, 2.5, 1e-7, 1e-6, 1e20, 1e21, 123456789.125, 5e-324, math.MaxFloat64, -1e-9} {
		got, err := Float(nil, f)
		want, _ := json.Marshal(f)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("float %v: %s %v, want %s", f, got, err, want)
		}
	}
	if _, err := Float(nil, math.NaN()); err == nil {
		t.Error("NaN written")
	}
	for _, tm := range []time.Time{{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600+60)),
		time.Date(2026, 11, 30, 13, 4, 5, 123456789, time.UTC), time.Date(2026, 11, 30, 13, 4, 5, 0, time.FixedZone("CET", 3600))} {
		got, err := Time(nil, tm)
		want, werr := json.Marshal(tm)
		if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, want) || err != nil && err.Error() != werr.Error() {
			t.Errorf("time %v: %s %v, want %s %v", tm, got, err, want, werr)
		}
		got, err = TimePtr(nil, &tm)
		want, werr = json.Marshal(&tm)
		if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, want) || err != nil && err.Error() != werr.Error() {
			t.Errorf("*time %v: %s %v, want %s %v", tm, got, err, want, werr)
		}
	}
	if got, err := TimePtr(nil, nil); err != nil || string(got) != "null" {
		t.Errorf("nil *time: %s %v", got, err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
