package webui

import "github.com/gofiber/fiber/v2"

func (u *UI) stackList(c *fiber.Ctx) error { return notYet(c) }
