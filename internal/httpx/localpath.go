package httpx

import (
	"net/url"
	"strings"
)

// LocalPath keeps redirect targets on this site: a path, never a URL with
// a scheme or host, however a browser would read it (browsers drop tabs
// and newlines and take "\\" for "/", so "/\t/evil" is "//evil").
func LocalPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(p, "/") ||
		strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") ||
		strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "/"
	}
	return p
}
