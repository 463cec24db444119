package httpx

import "testing"

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/c/prod/services?q=web": "/c/prod/services?q=web", "/": "/", "": "/",
		"//evil.example": "/", "/\\evil": "/", "/\t/evil.example": "/", "/\n/evil": "/",
		"https://evil.example/": "/", "javascript:alert(1)": "/", "/ok%2F%2Fstill-a-path": "/ok%2F%2Fstill-a-path",
		"/x\x7f": "/", "relative/path": "/",
	} {
		if got := LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}
