package httpapi

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/jsonw"
	"github.com/swarmops/swarmops/internal/swarm"
)

type healthDTO = swarm.Health

// tlsDTO says what TLS material a cluster has, never the material.
type tlsDTO struct {
	CA            bool       `json:"ca"`
	ClientCert    bool       `json:"client_cert"`
	CertSubject   string     `json:"cert_subject,omitempty"`
	CertExpiresAt *time.Time `json:"cert_expires_at,omitempty"`
}

type clusterDTO struct {
	Name      string            `json:"name"`
	Endpoints []string          `json:"endpoints"`
	Default   bool              `json:"default"`
	Labels    map[string]string `json:"labels"`
	TLS       *tlsDTO           `json:"tls"`
	SwarmID   string            `json:"swarm_id"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Health    *healthDTO        `json:"health,omitempty"`
}

// AppendJSON appends d as encoding/json.Marshal writes it: the cluster
// list is the answer every page and client asks for most, and
// encoding/json's reflection (times above all) was a tenth of an
// instance's CPU under load. Health, asked for rarely, goes through
// encoding/json. TestSendList_SameAsJSON compares both.
func (d *clusterDTO) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"name":`...)
	b = jsonw.String(b, d.Name)
	b = append(b, `,"endpoints":`...)
	b = jsonw.Strings(b, d.Endpoints)
	b = append(b, `,"default":`...)
	b = jsonw.Bool(b, d.Default)
	b = append(b, `,"labels":`...)
	b = jsonw.Labels(b, d.Labels)
	b = append(b, `,"tls":`...)
	if t := d.TLS; t == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"ca":`...)
		b = jsonw.Bool(b, t.CA)
		b = append(b, `,"client_cert":`...)
		b = jsonw.Bool(b, t.ClientCert)
		if t.CertSubject != "" {
			b = append(b, `,"cert_subject":`...)
			b = jsonw.String(b, t.CertSubject)
		}
		if t.CertExpiresAt != nil {
			b = append(b, `,"cert_expires_at":`...)
			if b, err = jsonw.TimePtr(b, t.CertExpiresAt); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	b = append(b, `,"swarm_id":`...)
	b = jsonw.String(b, d.SwarmID)
	b = append(b, `,"created_at":`...)
	if b, err = jsonw.Time(b, d.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = jsonw.Time(b, d.UpdatedAt); err != nil {
		return b, err
	}
	if d.Health != nil {
		h, err := json.Marshal(d.Health)
		if err != nil {
			return b, err
		}
		b = append(append(b, `,"health":`...), h...)
	}
	return append(b, '}'), nil
}

func toClusterDTO(v swarm.ClusterView) clusterDTO {
	d := clusterDTO{
		Name: v.Name, Endpoints: v.Endpoints, Default: v.Default, Labels: v.Labels,
		SwarmID: v.SwarmID, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Health: v.Health,
	}
	if t := v.TLS; t != nil {
		d.TLS = &tlsDTO{CA: t.CA, ClientCert: t.ClientCert, CertSubject: t.CertSubject, CertExpiresAt: t.CertExpiresAt}
	}
	return d
}

type tlsReq struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

func (t *tlsReq) toDomain() *swarm.TLS {
	if t == nil {
		return nil
	}
	return &swarm.TLS{CA: t.CA, Cert: t.Cert, Key: t.Key}
}

type clusterReq struct {
	Name     string            `json:"name"`
	Endpoint string            `json:"endpoint"`
	TLS      *tlsReq           `json:"tls"`
	Labels   map[string]string `json:"labels"`
}

type initReq struct {
	clusterReq
	AdvertiseAddr   string `json:"advertise_addr"`
	ListenAddr      string `json:"listen_addr"`
	ForceNewCluster bool   `json:"force_new_cluster"`
}

type clusterPatch struct {
	Endpoints []string          `json:"endpoints"`
	TLS       json.RawMessage   `json:"tls"` // an object, or null to remove
	Labels    map[string]string `json:"labels"`
	Default   *bool             `json:"default"`
}

type joinTokensDTO = swarm.JoinTokens

type rotateReq struct {
	Role string `json:"role"`
}

func (r clusterReq) toDomain() swarm.NewCluster {
	return swarm.NewCluster{Name: r.Name, Endpoint: r.Endpoint, TLS: r.TLS.toDomain(), Labels: r.Labels}
}

func (a *API) listClusters(c *fiber.Ctx) error {
	f, err := listFilter(c)
	if err != nil {
		return err
	}
	withHealth, err := queryBool(c, "health")
	if err != nil {
		return err
	}
	pg, err := pagingOf(c, clustersOrder)
	if err != nil {
		return err
	}
	views, err := a.Fleet.ListClusters(c.UserContext(), f, withHealth)
	if err != nil {
		return err
	}
	out := make([]clusterDTO, len(views))
	for i, v := range views {
		out[i] = toClusterDTO(v)
	}
	return pg.send(c, out)
}

func (a *API) createCluster(c *fiber.Ctx) error {
	var req clusterReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	v, err := a.Fleet.AddCluster(c.UserContext(), req.toDomain())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toClusterDTO(v))
}

func (a *API) initCluster(c *fiber.Ctx) error {
	var req initReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	v, err := a.Fleet.InitCluster(c.UserContext(), swarm.InitCluster{
		NewCluster: req.toDomain(), AdvertiseAddr: req.AdvertiseAddr,
		ListenAddr: req.ListenAddr, ForceNewCluster: req.ForceNewCluster,
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toClusterDTO(v))
}

func (a *API) getCluster(c *fiber.Ctx) error {
	v, err := a.Fleet.GetCluster(c.UserContext(), c.Params("cluster"))
	if err != nil {
		return err
	}
	return c.JSON(toClusterDTO(v))
}

func (a *API) updateCluster(c *fiber.Ctx) error {
	var req clusterPatch
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	ch := swarm.ClusterChange{Endpoints: req.Endpoints, Labels: req.Labels, Default: req.Default}
	switch t := strings.TrimSpace(string(req.TLS)); t {
	case "":
	case "null":
		ch.ClearTLS = true
	default:
		var tr tlsReq
		if err := httpx.DecodeStrict(req.TLS, &tr); err != nil {
			return errs.Invalid("tls", "expected {\"ca\",\"cert\",\"key\"} (PEM strings) or null")
		}
		ch.TLS = tr.toDomain()
	}
	v, err := a.Fleet.UpdateCluster(c.UserContext(), c.Params("cluster"), ch)
	if err != nil {
		return err
	}
	return c.JSON(toClusterDTO(v))
}

func (a *API) deleteCluster(c *fiber.Ctx) error {
	if err := a.Fleet.DeleteCluster(c.UserContext(), c.Params("cluster")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) refreshCluster(c *fiber.Ctx) error {
	v, err := a.Fleet.RefreshCluster(c.UserContext(), c.Params("cluster"))
	if err != nil {
		return err
	}
	return c.JSON(toClusterDTO(v))
}

func (a *API) clusterHealth(c *fiber.Ctx) error {
	h, err := a.Fleet.ClusterHealth(c.UserContext(), c.Params("cluster"))
	if err != nil {
		return err
	}
	return c.JSON(h)
}

func (a *API) joinTokens(c *fiber.Ctx) error {
	jt, err := a.Fleet.JoinTokens(c.UserContext(), c.Params("cluster"))
	if err != nil {
		return err
	}
	return c.JSON(jt)
}

func (a *API) rotateJoinToken(c *fiber.Ctx) error {
	var req rotateReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	jt, err := a.Fleet.RotateJoinToken(c.UserContext(), c.Params("cluster"), req.Role)
	if err != nil {
		return err
	}
	return c.JSON(jt)
}
