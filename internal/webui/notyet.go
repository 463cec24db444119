package webui

import "github.com/gofiber/fiber/v2"

// notYet answers pages whose handlers are being written.
func notYet(c *fiber.Ctx) error {
	return fiber.NewError(fiber.StatusNotImplemented, "this page is not built yet")
}
