package webui

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"

	"github.com/gofiber/fiber/v2"
)

// assets serves the embedded static files under content-hashed URLs
// (/static/<hash>/<name>), so a new build's files never meet an old
// cache and every file can be cached for a year.
type assets struct {
	files map[string][]byte // name -> content
	hash  map[string]string // name -> hash of its content
}

func loadAssets(fsys fs.FS) (*assets, error) {
	a := &assets{files: map[string][]byte{}, hash: map[string]string{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a.files[p] = b
		a.hash[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	return a, nil
}

// url answers the hashed URL of a static file; a name that is not there
// fails template execution, so a typo is a test failure, not a 404 later.
func (a *assets) url(name string) (string, error) {
	h, ok := a.hash[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/static/" + h + "/" + name, nil
}

// serve answers GET /static/:hash/*. A hash of another build (an old page
// during a rolling upgrade) still gets the file, but not for long.
func (a *assets) serve(c *fiber.Ctx) error {
	name := c.Params("*")
	b, ok := a.files[name]
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, "no such static file")
	}
	if c.Params("hash") == a.hash[name] {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = fiber.MIMEOctetStream
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Send(b)
}
