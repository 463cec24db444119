package httpapi

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/registry"
)

type registryDTO = registry.Summary

// registryReq registers a registry; the password goes in and never out.
type registryReq = registry.Input

// page is a list answered a page at a time: Next, when set, is what to
// pass as ?last= for the following page.
type page[T any] struct {
	Items []T    `json:"items" openapi:"notnull"`
	Total int    `json:"total"` // items on this page
	Next  string `json:"next,omitempty"`
}

func pageOf[T any](items []T, next string) page[T] {
	if items == nil {
		items = []T{}
	}
	return page[T]{Items: items, Total: len(items), Next: next}
}

type repositoryDTO struct {
	Name string `json:"name"`
}

type tagDTO = registry.Tag

type tagsDeletedDTO = registry.Deleted

func (a *API) listRegistries(c *fiber.Ctx) error {
	pg, err := pagingOf(c, registriesOrder)
	if err != nil {
		return err
	}
	list, err := a.Registries.List(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(pg.list(c, list))
}

func (a *API) getRegistry(c *fiber.Ctx) error {
	r, err := a.Registries.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *API) createRegistry(c *fiber.Ctx) error {
	var req registryReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	r, err := a.Registries.Create(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(r)
}

func (a *API) updateRegistry(c *fiber.Ctx) error {
	var req registryReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	r, err := a.Registries.Update(c.UserContext(), c.Params("name"), req)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *API) deleteRegistry(c *fiber.Ctx) error {
	if err := a.Registries.Delete(c.UserContext(), c.Params("name")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) listRepositories(c *fiber.Ctx) error {
	n, err := httpx.PageSize(c)
	if err != nil {
		return err
	}
	p, err := a.Registries.Repositories(c.UserContext(), c.Params("name"), c.Query("q"), c.Query("last"), n)
	if err != nil {
		return err
	}
	items := make([]repositoryDTO, len(p.Names))
	for i, name := range p.Names {
		items[i] = repositoryDTO{Name: name}
	}
	return c.JSON(pageOf(items, p.Next))
}

func (a *API) listTags(c *fiber.Ctx) error {
	repo, err := repoParam(c)
	if err != nil {
		return err
	}
	n, err := httpx.PageSize(c)
	if err != nil {
		return err
	}
	p, err := a.Registries.Tags(c.UserContext(), c.Params("name"), repo, c.Query("last"), n)
	if err != nil {
		return err
	}
	return c.JSON(pageOf(p.Tags, p.Next))
}

func (a *API) deleteTag(c *fiber.Ctx) error {
	repo, err := repoParam(c)
	if err != nil {
		return err
	}
	d, err := a.Registries.DeleteTag(c.UserContext(), c.Params("name"), repo, c.Params("tag"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// repoParam answers the repository of a registry route: the path between
// /repositories/ and /tags, slashes included (team/app), or escaped
// (team%2Fapp).
func repoParam(c *fiber.Ctx) (string, error) {
	repo, err := url.PathUnescape(c.Params("+"))
	if err != nil || repo == "" {
		return "", errs.Invalid("repository", "expected a repository path such as team/app")
	}
	return repo, nil
}
