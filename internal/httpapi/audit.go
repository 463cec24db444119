package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/audit"
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
	recs, err := a.Audit.Search(c.UserContext(), audit.Query{
		Cluster: c.Query("cluster"), User: c.Query("user"), Action: c.Query("action"),
		Since: c.Query("since"), Limit: c.Query("limit"),
	})
	if err != nil {
		return err
	}
	out := make([]auditDTO, len(recs))
	for i, r := range recs {
		out[i] = auditDTO{r.Time, r.User, r.Action, r.Cluster, r.Target, r.RequestID, r.Instance, r.Result, r.Error}
	}
	return c.JSON(listOf(out))
}
