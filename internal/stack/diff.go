package stack

import (
	"fmt"
	"strings"
)

// diffContext is the number of unchanged lines around each change.
const diffContext = 3

// UnifiedDiff answers the unified diff of two texts, as `diff -u` prints
// it (without timestamps): "--- fromName", "+++ toName", then hunks
// "@@ -a,b +c,d @@" with 3 lines of context, and "\ No newline at end of
// file" after a last line without one. Identical texts answer "".
func UnifiedDiff(from, to, fromName, toName string) string {
	a, b := splitLines(from), splitLines(to)
	ops := lineDiff(a, b)
	hunks := groupHunks(ops, diffContext)
	if len(hunks) == 0 {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", fromName, toName)
	for _, h := range hunks {
		writeHunk(&sb, h, a, b)
	}
	return sb.String()
}

// splitLines cuts s into lines that keep their "\n", so a last line
// without one differs from the same line with one, as for diff.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// opKind is what happens to a line.
type opKind byte

const (
	opEqual  opKind = ' '
	opDelete opKind = '-'
	opInsert opKind = '+'
)

// op is one line of the edit script: a[ai] kept or deleted, or b[bi]
// inserted; ai and bi are where both texts stand at that line.
type op struct {
	kind   opKind
	ai, bi int
}

// lineDiff answers a shortest edit script from a to b (deletions before
// insertions within a change, as diff prints them).
func lineDiff(a, b []string) []op {
	d := &differ{a: a, b: b, del: make([]bool, len(a)), ins: make([]bool, len(b))}
	d.compare(0, len(a), 0, len(b))
	var ops []op
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && d.del[i]:
			ops = append(ops, op{opDelete, i, j})
			i++
		case j < len(b) && d.ins[j]:
			ops = append(ops, op{opInsert, i, j})
			j++
		default:
			ops = append(ops, op{opEqual, i, j})
			i, j = i+1, j+1
		}
	}
	return ops
}

// differ is Myers' O((N+M)D) difference algorithm in linear space: find
// the middle snake of an optimal path, recurse on both sides of it. It
// marks the lines of a deleted and of b inserted.
type differ struct {
	a, b     []string
	del, ins []bool
}

func (d *differ) compare(aLo, aHi, bLo, bHi int) {
	for aLo < aHi && bLo < bHi && d.a[aLo] == d.b[bLo] {
		aLo, bLo = aLo+1, bLo+1
	}
	for aLo < aHi && bLo < bHi && d.a[aHi-1] == d.b[bHi-1] {
		aHi, bHi = aHi-1, bHi-1
	}
	switch {
	case aLo == aHi:
		for j := bLo; j < bHi; j++ {
			d.ins[j] = true
		}
		return
	case bLo == bHi:
		for i := aLo; i < aHi; i++ {
			d.del[i] = true
		}
		return
	}
	x, y, u, v := d.middleSnake(aLo, aHi, bLo, bHi)
	if (x == aLo && y == bLo && u == aLo && v == bLo) || (x == aHi && y == bHi) {
		// No progress possible (cannot happen once common ends are cut,
		// but never loop): replace the whole range.
		for i := aLo; i < aHi; i++ {
			d.del[i] = true
		}
		for j := bLo; j < bHi; j++ {
			d.ins[j] = true
		}
		return
	}
	d.compare(aLo, x, bLo, y)
	d.compare(u, aHi, v, bHi)
}

// middleSnake answers the middle snake (x,y)-(u,v) of a shortest path
// through a[aLo:aHi] and b[bLo:bHi], in absolute positions: forward and
// backward searches run in turn until their furthest points overlap.
func (d *differ) middleSnake(aLo, aHi, bLo, bHi int) (x, y, u, v int) {
	n, m := aHi-aLo, bHi-bLo
	delta := n - m
	odd := delta%2 != 0
	maxD := (n + m + 1) / 2
	off := maxD + 1
	vf := make([]int, 2*maxD+3) // furthest x on forward diagonal k = x-y
	vb := make([]int, 2*maxD+3) // furthest x' from the end on backward diagonal k' = x'-y'
	for dd := 0; dd <= maxD; dd++ {
		for k := -dd; k <= dd; k += 2 {
			var px int
			if k == -dd || (k != dd && vf[off+k-1] < vf[off+k+1]) {
				px = vf[off+k+1]
			} else {
				px = vf[off+k-1] + 1
			}
			py := px - k
			sx, sy := px, py
			for px < n && py < m && d.a[aLo+px] == d.b[bLo+py] {
				px, py = px+1, py+1
			}
			vf[off+k] = px
			if kb := delta - k; odd && kb >= -(dd-1) && kb <= dd-1 && px+vb[off+kb] >= n {
				return aLo + sx, bLo + sy, aLo + px, bLo + py
			}
		}
		for k := -dd; k <= dd; k += 2 {
			var px int
			if k == -dd || (k != dd && vb[off+k-1] < vb[off+k+1]) {
				px = vb[off+k+1]
			} else {
				px = vb[off+k-1] + 1
			}
			py := px - k
			sx, sy := px, py
			for px < n && py < m && d.a[aHi-1-px] == d.b[bHi-1-py] {
				px, py = px+1, py+1
			}
			vb[off+k] = px
			if kf := delta - k; !odd && kf >= -dd && kf <= dd && px+vf[off+kf] >= n {
				return aHi - px, bHi - py, aHi - sx, bHi - sy
			}
		}
	}
	// Unreachable: the searches meet by maxD.
	return aHi, bHi, aHi, bHi
}

// hunk is a run of ops: changes with their context.
type hunk []op

// groupHunks cuts the edit script into hunks: each change with up to
// context equal lines on both sides, changes closer than 2*context lines
// in one hunk.
func groupHunks(ops []op, context int) []hunk {
	var hunks []hunk
	start, end := -1, -1 // ops[start:end] is the hunk being built
	lastChange := -1
	for i, o := range ops {
		if o.kind == opEqual {
			continue
		}
		if start >= 0 && i-lastChange-1 > 2*context {
			hunks = append(hunks, hunk(ops[start:end]))
			start = -1
		}
		if start < 0 {
			start = max(0, i-context)
		}
		lastChange = i
		end = min(len(ops), i+1+context)
	}
	if start >= 0 {
		hunks = append(hunks, hunk(ops[start:end]))
	}
	return hunks
}

func writeHunk(sb *strings.Builder, h hunk, a, b []string) {
	aStart, bStart := h[0].ai, h[0].bi
	aLen, bLen := 0, 0
	for _, o := range h {
		switch o.kind {
		case opEqual:
			aLen, bLen = aLen+1, bLen+1
		case opDelete:
			aLen++
		case opInsert:
			bLen++
		}
	}
	fmt.Fprintf(sb, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
	for _, o := range h {
		line := ""
		switch o.kind {
		case opEqual, opDelete:
			line = a[o.ai]
		case opInsert:
			line = b[o.bi]
		}
		sb.WriteByte(byte(o.kind))
		sb.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			sb.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange is diff's "start,count": 1-based start, count left out when
// 1, and the line before the range when it is empty.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}
