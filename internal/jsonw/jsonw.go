// Package jsonw appends values to a byte slice exactly as encoding/json
// writes them (HTML-safe escaping, map keys sorted, RFC 3339 times), so
// that an answer is the same, byte for byte, whether encoding/json or a
// hand-written writer made it. Hand-written writers of the hot answers
// (lists, the cluster registry) use it to skip encoding/json's
// reflection, which was most of what those answers cost (issue 16).
package jsonw

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// htmlSafe are the ASCII bytes encoding/json writes as they are.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// String appends s as encoding/json writes a string (adapted
// from its appendString, escapeHTML set).
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Time appends t as encoding/json writes it (time.Time's
// MarshalJSON), with its error for times RFC 3339 cannot hold.
func Time(dst []byte, t time.Time) ([]byte, error) { return appendTime(dst, t, timeType) }

// TimePtr appends t as encoding/json writes a *time.Time: null for nil,
// and the error naming the pointer type.
func TimePtr(dst []byte, t *time.Time) ([]byte, error) {
	if t == nil {
		return append(dst, "null"...), nil
	}
	return appendTime(dst, *t, timePtrType)
}

func appendTime(dst []byte, t time.Time, typ reflect.Type) ([]byte, error) {
	if t.Location() == time.UTC {
		if y := t.Year(); 0 <= y && y <= 9999 {
			dst = append(dst, '"')
			dst = t.AppendFormat(dst, time.RFC3339Nano)
			return append(dst, '"'), nil
		}
	}
	b, err := t.MarshalJSON()
	if err != nil {
		return dst, &json.MarshalerError{Type: typ, Err: err}
	}
	return append(dst, b...), nil
}

var (
	timeType    = reflect.TypeFor[time.Time]()
	timePtrType = reflect.TypeFor[*time.Time]()
)

// Float appends f as encoding/json writes a float64.
func Float(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// Labels appends m as encoding/json writes a map of strings:
// its keys sorted, null for nil.
func Labels(dst []byte, m map[string]string) []byte {
	if m == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	switch len(m) {
	case 0:
	case 1:
		for k, v := range m {
			dst = String(dst, k)
			dst = append(dst, ':')
			dst = String(dst, v)
		}
	default:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = String(dst, k)
			dst = append(dst, ':')
			dst = String(dst, m[k])
		}
	}
	return append(dst, '}')
}

// Strings appends s as encoding/json writes a []string.
func Strings(dst []byte, s []string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, v := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = String(dst, v)
	}
	return append(dst, ']')
}

// Bool appends b as encoding/json writes a bool.
func Bool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}
