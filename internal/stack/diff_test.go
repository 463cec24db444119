package stack

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lines joins its arguments, each ended by "\n".
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// The expected diffs were printed by GNU diff -u (headers aside).
func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"identical", lines("a", "b"), lines("a", "b"), ""},
		{"both empty", "", "", ""},
		{
			"two hunks", lines("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"),
			lines("a", "b", "C", "d", "e", "f", "g", "h", "i", "j", "k", "L", "m", "n"),
			"--- a.yml\n+++ b.yml\n" +
				"@@ -1,6 +1,6 @@\n a\n b\n-c\n+C\n d\n e\n f\n" +
				"@@ -9,5 +9,6 @@\n i\n j\n k\n-l\n+L\n m\n+n\n",
		},
		{
			"changes 4 apart share a hunk", lines("a", "b", "c", "d", "e", "f", "g", "h"),
			lines("a", "b", "X", "d", "e", "f", "g", "Y"),
			"--- a.yml\n+++ b.yml\n@@ -1,8 +1,8 @@\n a\n b\n-c\n+X\n d\n e\n f\n g\n-h\n+Y\n",
		},
		{
			"changes 6 apart share a hunk", lines("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"),
			lines("a", "B", "c", "d", "e", "f", "g", "h", "I", "j", "k", "l"),
			"--- a.yml\n+++ b.yml\n@@ -1,12 +1,12 @@\n a\n-b\n+B\n c\n d\n e\n f\n g\n h\n-i\n+I\n j\n k\n l\n",
		},
		{
			"changes 7 apart do not", lines("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"),
			lines("a", "B", "c", "d", "e", "f", "g", "h", "i", "J", "k", "l"),
			"--- a.yml\n+++ b.yml\n@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -7,6 +7,6 @@\n g\n h\n i\n-j\n+J\n k\n l\n",
		},
		{
			"newline added at the end", "x\ny", "x\ny\n",
			"--- a.yml\n+++ b.yml\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y\n",
		},
		{"from empty", "", lines("one", "two"), "--- a.yml\n+++ b.yml\n@@ -0,0 +1,2 @@\n+one\n+two\n"},
		{"to empty", lines("one", "two"), "", "--- a.yml\n+++ b.yml\n@@ -1,2 +0,0 @@\n-one\n-two\n"},
		{"one line", "a\n", "b\n", "--- a.yml\n+++ b.yml\n@@ -1 +1 @@\n-a\n+b\n"},
		{
			"compose", lines(`version: "3.8"`, "services:", "  web:", "    image: hello:1", "    environment:", `      A: "1"`),
			lines(`version: "3.8"`, "services:", "  web:", "    image: hello:2", "    environment:", `      A: "1"`, `      B: "2"`),
			"--- a.yml\n+++ b.yml\n@@ -1,6 +1,7 @@\n version: \"3.8\"\n services:\n   web:\n-    image: hello:1\n+    image: hello:2\n     environment:\n       A: \"1\"\n+      B: \"2\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := UnifiedDiff(tt.from, tt.to, "a.yml", "b.yml")
			if d := cmp.Diff(got, tt.want); d != "" {
				t.Errorf("UnifiedDiff (-got +want):\n%s", d)
			}
		})
	}
}

// TestLineDiff_Shortest checks on random texts that the edit script turns
// a into b and is as short as the longest common subsequence allows.
func TestLineDiff_Shortest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() []string {
		out := make([]string, r.IntN(30))
		for i := range out {
			out[i] = string(rune('a' + r.IntN(4)))
		}
		return out
	}
	for i := 0; i < 2000; i++ {
		a, b := gen(), gen()
		ops := lineDiff(a, b)
		var got []string
		edits := 0
		for _, o := range ops {
			switch o.kind {
			case opEqual:
				if a[o.ai] != b[o.bi] {
					t.Fatalf("%q -> %q: equal op on %q and %q", a, b, a[o.ai], b[o.bi])
				}
				got = append(got, a[o.ai])
			case opInsert:
				got = append(got, b[o.bi])
				edits++
			case opDelete:
				edits++
			}
		}
		if !slicesEqual(got, b) {
			t.Fatalf("%q -> %q: the script makes %q", a, b, got)
		}
		if want := len(a) + len(b) - 2*lcsLen(a, b); edits != want {
			t.Fatalf("%q -> %q: %d edits, the shortest has %d", a, b, edits, want)
		}
	}
}

func slicesEqual(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b))
}

func lcsLen(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

func BenchmarkUnifiedDiff(b *testing.B) {
	var from, to strings.Builder
	for i := 0; i < 5000; i++ {
		from.WriteString(strings.Repeat("x", i%7) + "\n")
		if i%50 == 0 {
			to.WriteString("changed\n")
		} else {
			to.WriteString(strings.Repeat("x", i%7) + "\n")
		}
	}
	for b.Loop() {
		UnifiedDiff(from.String(), to.String(), "a", "b")
	}
}
