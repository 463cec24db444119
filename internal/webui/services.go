package webui

import "github.com/gofiber/fiber/v2"

func (u *UI) serviceList(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceNew(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceCreate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceDetail(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceEdit(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceUpdate(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceScale(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceImage(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceRollback(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceRedeploy(c *fiber.Ctx) error { return notYet(c) }

func (u *UI) serviceDelete(c *fiber.Ctx) error { return notYet(c) }
