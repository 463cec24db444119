// Package web holds the web UI's templates and static files, embedded in
// the binary (go:embed cannot reach ../ from internal/webui, so they live
// here). Nothing in it runs: internal/webui parses and serves them.
package web

import "embed"

// Templates holds layout/*.html (the shell and partials) and
// pages/<resource>_<view>.html.
//
//go:embed templates
var Templates embed.FS

// Static holds the hand-written stylesheet, scripts and icons.
//
//go:embed static
var Static embed.FS
