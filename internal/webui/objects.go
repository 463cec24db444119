package webui

import "github.com/gofiber/fiber/v2"

func (u *UI) taskList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) networkList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) networkCreate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) networkDelete(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) secretList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) secretCreate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) secretDelete(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) configList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) configCreate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) configDetail(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) configDelete(c *fiber.Ctx) error { return notYet(c) }
