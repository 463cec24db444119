package swarm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// The engine's list answers are read by jsonIn into the few fields a list
// shows, and the lists are written by the append functions below: the
// docker client's decoding into its full types and encoding/json's
// reflection were most of what a list cost (issue 16).
//
// jsonIn is as strict as encoding/json on syntax (a value it skips is
// checked all the same) and gives the same values: field names match
// exactly or else case-insensitively, null leaves a field as it is (a
// pointer nil), strings with escapes or invalid UTF-8 are decoded by
// encoding/json itself, times by time.Time's UnmarshalJSON.

// maxJSONDepth is encoding/json's limit on nesting.
const maxJSONDepth = 10000

// jsonIn reads one JSON document held in b. The first error stops it:
// every later read answers zero values, and err says what went wrong.
type jsonIn struct {
	b     []byte
	i     int
	depth int
	err   error
	// first is set between the start of an object or array and the
	// read of its first member or element (obj, next, arr, elem).
	first bool
	// key is the name of the member next read.
	key []byte
	// last are the strings last read by strSame, by slot: values many
	// items share (states, messages, images) are kept once.
	last [8]string
}

var errJSONEnd = errors.New("unexpected end of JSON input")

func (r *jsonIn) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("engine answer at offset %d: %s", r.i, fmt.Sprintf(format, args...))
	}
	r.i = len(r.b)
}

// peek skips white space and answers the next byte, 0 at the end.
func (r *jsonIn) peek() byte {
	for r.i < len(r.b) {
		switch c := r.b[r.i]; c {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return c
		}
	}
	return 0
}

func (r *jsonIn) expect(c byte) bool {
	if r.peek() != c {
		r.mismatch(fmt.Sprintf("%q", c))
		return false
	}
	r.i++
	return true
}

// null consumes a null and reports whether there was one.
func (r *jsonIn) null() bool {
	if r.peek() != 'n' {
		return false
	}
	r.literal("null")
	return r.err == nil
}

func (r *jsonIn) literal(lit string) {
	if len(r.b)-r.i < len(lit) || string(r.b[r.i:r.i+len(lit)]) != lit {
		r.fail("invalid literal, expected %s", lit)
		return
	}
	r.i += len(lit)
	if r.i < len(r.b) && !jsonDelim[r.b[r.i]] {
		r.fail("invalid character after %s", lit)
	}
}

// jsonDelim are the bytes that may follow a literal or a number.
var jsonDelim = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, ',': true, ']': true, '}': true}

// strPlain are the bytes a string holds as they are: printable ASCII
// but the quote and the backslash.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// notPlain8 reports whether the 8 bytes of w may hold one that is not
// plain: a quote, a backslash, a control character or one beyond ASCII
// (it may say so of plain ones too, which are then looked at one by one).
func notPlain8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	return ((w-ones*0x20)|(quote-ones)|(backslash-ones)|w)&highs != 0
}

// rawString consumes a string and answers the bytes between its quotes,
// and whether they need decoding (escapes, or bytes beyond ASCII).
func (r *jsonIn) rawString() (raw []byte, special bool) {
	if !r.expect('"') {
		return nil, false
	}
	b, start := r.b, r.i
	j := start
	for {
		// Eight plain bytes at a time, then one by one.
		for j+8 <= len(b) && !notPlain8(binary.LittleEndian.Uint64(b[j:])) {
			j += 8
		}
		for j < len(b) && strPlain[b[j]] {
			j++
		}
		if j >= len(b) {
			r.i = j
			if r.err == nil {
				r.err = errJSONEnd
			}
			return nil, false
		}
		switch c := b[j]; {
		case c == '"':
			r.i = j + 1
			return b[start:j], special
		case c == '\\':
			special = true
			if j+1 >= len(b) {
				r.i = j
				r.err = errJSONEnd
				return nil, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) {
					r.i = j
					r.err = errJSONEnd
					return nil, false
				}
				for _, h := range b[j+2 : j+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						r.i = j
						r.fail("invalid escape in string")
						return nil, false
					}
				}
				j += 6
			default:
				r.i = j
				r.fail("invalid escape in string")
				return nil, false
			}
		case c < 0x20:
			r.i = j
			r.fail("control character in string")
			return nil, false
		default: // beyond ASCII
			special = true
			j++
		}
	}
}

// decodeString answers raw, a string's content, as encoding/json decodes it.
func (r *jsonIn) decodeString(raw []byte, special bool) string {
	if !special || utf8.Valid(raw) && !slices.Contains(raw, '\\') {
		return string(raw)
	}
	// Escapes or invalid UTF-8: exactly as encoding/json decodes them.
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		r.fail("string: %v", err)
	}
	return s
}

// str reads a string into *dst; null leaves it.
func (r *jsonIn) str(dst *string) {
	switch r.peek() {
	case '"':
		raw, special := r.rawString()
		if r.err == nil {
			*dst = r.decodeString(raw, special)
		}
	case 'n':
		r.null()
	default:
		r.mismatch("string")
	}
}

// strSame is str for values many items share: one equal to the last read
// with the same slot is that string again.
func (r *jsonIn) strSame(dst *string, slot int) {
	switch r.peek() {
	case '"':
		raw, special := r.rawString()
		switch {
		case r.err != nil:
		case !special && string(raw) == r.last[slot]:
			*dst = r.last[slot]
		case !special:
			*dst = string(raw)
			r.last[slot] = *dst
		default:
			*dst = r.decodeString(raw, special)
		}
	case 'n':
		r.null()
	default:
		r.mismatch("string")
	}
}

func (r *jsonIn) mismatch(want string) {
	if r.i >= len(r.b) {
		if r.err == nil {
			r.err = errJSONEnd
		}
		return
	}
	r.fail("expected %s, found %q", want, r.b[r.i])
}

// number consumes a number and answers its text.
func (r *jsonIn) number() []byte {
	b, start := r.b, r.i
	j := start
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
	default:
		r.fail("invalid number")
		return nil
	}
	if j < len(b) && b[j] == '.' {
		j++
		if j >= len(b) || b[j] < '0' || b[j] > '9' {
			r.i = j
			r.fail("invalid number")
			return nil
		}
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= len(b) || b[j] < '0' || b[j] > '9' {
			r.i = j
			r.fail("invalid number")
			return nil
		}
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
	}
	r.i = j
	if j < len(b) && !jsonDelim[b[j]] {
		r.fail("invalid character after number")
		return nil
	}
	return b[start:j]
}

// numberOf reads a number for a field of kind want; null answers nil.
func (r *jsonIn) numberOf(want string) []byte {
	switch c := r.peek(); {
	case c == '-' || '0' <= c && c <= '9':
		return r.number()
	case c == 'n':
		r.null()
	default:
		r.mismatch(want)
	}
	return nil
}

// int64 reads an integer into *dst as encoding/json does; null leaves it.
func (r *jsonIn) int64(dst *int64) {
	lit := r.numberOf("number")
	if lit == nil {
		return
	}
	n, ok := smallInt(lit)
	if !ok {
		var err error
		if n, err = strconv.ParseInt(string(lit), 10, 64); err != nil {
			r.fail("number %s does not fit an integer", lit)
			return
		}
	}
	*dst = n
}

func (r *jsonIn) int(dst *int) {
	var n int64 = int64(*dst)
	r.int64(&n)
	if n != int64(int(n)) {
		r.fail("number %d does not fit an int", n)
		return
	}
	*dst = int(n)
}

// uint64 reads a non-negative integer into *dst; null leaves it.
func (r *jsonIn) uint64(dst *uint64) {
	lit := r.numberOf("number")
	if lit == nil {
		return
	}
	n, err := strconv.ParseUint(string(lit), 10, 64)
	if err != nil {
		r.fail("number %s does not fit an unsigned integer", lit)
		return
	}
	*dst = n
}

func (r *jsonIn) uint32(dst *uint32) {
	var n uint64 = uint64(*dst)
	r.uint64(&n)
	if n > math.MaxUint32 {
		r.fail("number %d does not fit a uint32", n)
		return
	}
	*dst = uint32(n)
}

// uint64Ptr reads a number into a new *uint64; null sets nil.
func (r *jsonIn) uint64Ptr(dst **uint64) {
	if r.null() {
		*dst = nil
		return
	}
	n := new(uint64)
	r.uint64(n)
	*dst = n
}

// smallInt parses the digits (with a sign) of an integer of up to 18
// digits; false for anything else.
func smallInt(lit []byte) (int64, bool) {
	neg := len(lit) > 0 && lit[0] == '-'
	digits := lit
	if neg {
		digits = lit[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// bool reads true or false into *dst; null leaves it.
func (r *jsonIn) bool(dst *bool) {
	switch r.peek() {
	case 't':
		r.literal("true")
		*dst = r.err == nil
	case 'f':
		r.literal("false")
		*dst = false
	case 'n':
		r.null()
	default:
		r.mismatch("true or false")
	}
}

// time reads a time as time.Time's UnmarshalJSON does; null leaves it.
func (r *jsonIn) time(dst *time.Time) {
	switch r.peek() {
	case '"':
		start := r.i
		raw, _ := r.rawString()
		if r.err != nil {
			return
		}
		if t, ok := utcTime(raw); ok {
			*dst = t
		} else if err := dst.UnmarshalJSON(r.b[start:r.i]); err != nil {
			r.fail("time: %v", err)
		}
	case 'n':
		r.null()
	default:
		r.mismatch("a time")
	}
}

// utcTime parses the times engines write, RFC 3339 in UTC with up to
// nine digits of a second, to what time.Time's UnmarshalJSON makes of
// them; false for any other text, which is then left to it.
func utcTime(s []byte) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[len(s)-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	ok := true
	num := func(b []byte, lo, hi int) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				ok = false
				return lo
			}
			n = n*10 + int(c-'0')
		}
		if n < lo || n > hi {
			ok = false
		}
		return n
	}
	year := num(s[0:4], 0, 9999)
	month := num(s[5:7], 1, 12)
	day := num(s[8:10], 1, 31)
	hour := num(s[11:13], 0, 23)
	minute := num(s[14:16], 0, 59)
	sec := num(s[17:19], 0, 59)
	if !ok || day > daysIn(month, year) {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		nsec = num(frac[1:], 0, 999999999)
		for range 10 - len(frac) {
			nsec *= 10
		}
		if !ok {
			return time.Time{}, false
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// daysIn answers the number of days of month in year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// timePtr reads a time into a new *time.Time; null sets nil.
func (r *jsonIn) timePtr(dst **time.Time) {
	if r.null() {
		*dst = nil
		return
	}
	t := new(time.Time)
	r.time(t)
	*dst = t
}

// labels reads an object of strings into a new map; null sets nil.
func (r *jsonIn) labels(dst *map[string]string) {
	if r.null() {
		*dst = nil
		return
	}
	if !r.obj() {
		return
	}
	m := map[string]string{}
	for r.next() {
		k := string(r.key)
		if !utf8.Valid(r.key) {
			k = r.decodeString(r.key, true)
		}
		var v string
		r.str(&v)
		m[k] = v
	}
	*dst = m
}

// obj starts reading an object: read its members with next until it
// answers false. obj answers false for null (nothing to read) and for
// anything but an object (an error).
func (r *jsonIn) obj() bool { return r.open('{', "an object") }

// open starts reading an object or an array, whose first byte is c; false
// for null and for anything else (an error naming what was expected).
func (r *jsonIn) open(c byte, what string) bool {
	switch r.peek() {
	case c:
	case 'n':
		r.null()
		return false
	default:
		r.mismatch(what)
		return false
	}
	r.i++
	if r.depth++; r.depth > maxJSONDepth {
		r.fail("exceeded max depth")
		return false
	}
	r.first = true
	return true
}

// next reads the name of the object's next member (into key, decoded if
// it had escapes) and the colon after it; false at the end of the
// object, or on an error. The caller reads the member's value before it
// calls next again.
func (r *jsonIn) next() bool {
	if r.err != nil {
		return false
	}
	c := r.peek()
	switch {
	case r.first:
		r.first = false
	case c == ',':
		r.i++
		if c = r.peek(); c != '"' {
			r.mismatch("a member name")
			return false
		}
	case c != '}':
		r.mismatch("',' or '}'")
		return false
	}
	if c == '}' {
		r.i++
		r.depth--
		return false
	}
	if c != '"' {
		r.mismatch("a member name")
		return false
	}
	raw, special := r.rawString()
	if r.err != nil {
		return false
	}
	r.key = raw
	if special && slices.Contains(raw, '\\') {
		r.key = []byte(r.decodeString(raw, true))
	}
	return r.expect(':')
}

// member moves to the next member of the object being read that f keeps,
// skipping the others, and answers its index in f; -1 at the object's end
// (or on an error).
func (r *jsonIn) member(f *fields) int {
	for r.next() {
		if i := f.index(r.key); i >= 0 {
			return i
		}
		r.skip()
	}
	return -1
}

// arr starts reading an array: read its elements while elem answers
// true. arr answers false for null and for anything but an array (an
// error).
func (r *jsonIn) arr() bool { return r.open('[', "an array") }

// elem answers whether the array has another element, which the caller
// then reads; false at its end or on an error.
func (r *jsonIn) elem() bool {
	if r.err != nil {
		return false
	}
	c := r.peek()
	switch {
	case r.first:
		r.first = false
		if c != ']' {
			return true
		}
	case c == ',':
		r.i++
		return true
	case c != ']':
		r.mismatch("',' or ']'")
		return false
	}
	r.i++
	r.depth--
	return false
}

// skip reads any value, checking its syntax.
func (r *jsonIn) skip() {
	switch c := r.peek(); {
	case c == '"':
		r.rawString()
	case c == '{':
		r.obj()
		for r.next() {
			r.skip()
		}
	case c == '[':
		r.arr()
		for r.elem() {
			r.skip()
		}
	case c == 't':
		r.literal("true")
	case c == 'f':
		r.literal("false")
	case c == 'n':
		r.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		r.number()
	default:
		r.mismatch("a value")
	}
}

// fields are the member names of an object that a reader keeps.
type fields struct {
	names  []string
	folded []string
}

func newFields(names ...string) *fields {
	f := &fields{names: names}
	for _, n := range names {
		f.folded = append(f.folded, string(foldName(nil, []byte(n))))
	}
	return f
}

// index answers the index of key's field as encoding/json matches a
// member to a field: the exact name, else the name folded as it folds
// names (ASCII case, and Unicode's simple folds); -1 for none.
func (f *fields) index(key []byte) int {
	for i, n := range f.names {
		if string(key) == n {
			return i
		}
	}
	ascii := true
	for _, c := range key {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i, n := range f.folded {
			if len(n) == len(key) && asciiEqualFold(key, n) {
				return i
			}
		}
		return -1
	}
	var buf [64]byte
	folded := foldName(buf[:0], key)
	for i, n := range f.folded {
		if string(folded) == n {
			return i
		}
	}
	return -1
}

// foldName appends in folded as encoding/json folds a member name.
func foldName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, unicode.ToUpper(unicode.ToLower(r)))
		i += n
	}
	return out
}

func asciiEqualFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
