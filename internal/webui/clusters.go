package webui

import "github.com/gofiber/fiber/v2"

func (u *UI) clusterList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterNew(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterCreate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterInitForm(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterInit(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterDetail(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterEdit(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterUpdate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterRefresh(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterDelete(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) clusterRotateToken(c *fiber.Ctx) error { return notYet(c) }
