package webui

import "github.com/gofiber/fiber/v2"

func (u *UI) nodeList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) nodeJoinForm(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) nodeJoin(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) nodeLeave(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) nodeDetail(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) nodeAvailability(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) nodeLabels(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) nodeRole(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) nodeDelete(c *fiber.Ctx) error { return notYet(c) }
