package httpapi

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

type auditDTO struct {
	Time      time.Time `json:"time"`
	User      string    `json:"user"`
	Action    string    `json:"action"`
	Cluster   string    `json:"cluster"`
	Target    string    `json:"target"`
	RequestID string    `json:"request_id"`
	Instance  string    `json:"instance"`
	Result    string    `json:"result"`
	Error     string    `json:"error,omitempty"`
}

func (a *API) listAudit(c *fiber.Ctx) error {
	f := store.AuditFilter{Cluster: c.Query("cluster"), User: c.Query("user"), Action: c.Query("action")}
	if s := c.Query("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			d, derr := time.ParseDuration(s)
			if derr != nil || d <= 0 {
				return errs.Invalid("since", "expected an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (1h)")
			}
			t = time.Now().Add(-d)
		}
		f.Since = t
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return errs.Invalid("limit", "expected a number from 1 to 10000")
		}
		f.Limit = n
	}
	recs, err := a.Audit.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]auditDTO, len(recs))
	for i, r := range recs {
		out[i] = auditDTO{r.Time, r.User, r.Action, r.Cluster, r.Target, r.RequestID, r.Instance, r.Result, r.Error}
	}
	return c.JSON(listOf(out))
}
