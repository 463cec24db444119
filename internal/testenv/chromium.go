package testenv

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// StartChromium starts a headless Chromium with a fresh profile and answers
// a chromedp context for one tab (chromedp.NewContext(ctx) opens more). The
// browser is closed when the test ends.
func StartChromium(t testing.TB) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("testenv: Chromium is not started with -short")
	}
	path := Require(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root has no user namespace sandbox
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(SubDir(t, "chromium")),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Run(ctx); err != nil { // starts the browser
		t.Fatalf("testenv: start chromium: %v", err)
	}
	return ctx
}
