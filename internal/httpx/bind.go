package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
)

// BindJSON decodes the request body into v strictly: one JSON object, no
// unknown fields, types as declared. Every failure names the field.
func BindJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return errs.Invalid("body", "expected a JSON object")
	}
	if ct := c.Get(fiber.HeaderContentType); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return errs.Invalid("body", "expected Content-Type application/json, got %q", ct)
	}
	return DecodeStrict(body, v)
}

// DecodeStrict is BindJSON's decoding, for bodies read another way.
func DecodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errs.Invalid("body", "expected a single JSON object, found more after it")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return errs.Invalid("body", "malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := jsonFieldPath(typ.Field)
		if field == "" {
			field = "body"
		}
		return errs.Invalid(field, "expected %s, got a JSON %s", jsonTypeName(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Invalid("body", "malformed JSON: the body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.Invalid(name, "unknown field")
	}
	// Errors of a field's own UnmarshalJSON are public already.
	if _, ok := errs.Public(err); ok {
		return err
	}
	return errs.Invalid("body", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "uint32", "float64":
		return "a number"
	}
	return fmt.Sprintf("a %s", kind)
}

// jsonFieldPath drops from a decoding error's field path the Go names of
// embedded structs, which encoding/json puts there ("Source.compose" ->
// "compose"): clients know the JSON names only. Every JSON name of the
// API is lower case; a capitalised map key (an env name) is dropped too,
// leaving the map's field, which is still the field at fault.
func jsonFieldPath(f string) string {
	var out []string
	for _, p := range strings.Split(f, ".") {
		if p != "" && !unicode.IsUpper(rune(p[0])) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

// PageSize reads ?n=, the size of a page of a paged list: 1 to 1000, or
// 0 when absent (the list's default).
func PageSize(c *fiber.Ctx) (int, error) {
	raw := c.Query("n")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 1000 {
		return 0, errs.Invalid("n", "expected a page size from 1 to 1000")
	}
	return n, nil
}
