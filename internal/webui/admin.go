package webui

import "github.com/gofiber/fiber/v2"

func (u *UI) auditList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) userList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) userCreate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) userUpdate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) userDelete(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) tokenList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) tokenCreate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) tokenDelete(c *fiber.Ctx) error { return notYet(c) }
