package httpapi

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/store"
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

func toClusterDTO(c store.Cluster, isDefault bool, h *swarm.Health) clusterDTO {
	d := clusterDTO{
		Name: c.Name, Endpoints: c.Endpoints, Default: isDefault, Labels: c.Labels,
		SwarmID: c.SwarmID, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Health: h,
	}
	if d.Labels == nil {
		d.Labels = map[string]string{}
	}
	if c.TLS != nil {
		d.TLS = &tlsDTO{CA: c.TLS.CA != "", ClientCert: c.TLS.Cert != ""}
		if b, _ := pem.Decode([]byte(c.TLS.Cert)); b != nil {
			if cert, err := x509.ParseCertificate(b.Bytes); err == nil {
				exp := cert.NotAfter.UTC()
				d.TLS.CertSubject, d.TLS.CertExpiresAt = cert.Subject.String(), &exp
			}
		}
	}
	return d
}

type tlsReq struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

func (t *tlsReq) toStore() *store.TLS {
	if t == nil {
		return nil
	}
	return &store.TLS{CA: t.CA, Cert: t.Cert, Key: t.Key}
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
	return swarm.NewCluster{Name: r.Name, Endpoint: r.Endpoint, TLS: r.TLS.toStore(), Labels: r.Labels}
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
	views, err := a.Fleet.ListClusters(c.UserContext(), f, withHealth)
	if err != nil {
		return err
	}
	out := make([]clusterDTO, len(views))
	for i, v := range views {
		out[i] = toClusterDTO(v.Cluster, v.Default, v.Health)
	}
	return c.JSON(listOf(out))
}

func (a *API) createCluster(c *fiber.Ctx) error {
	var req clusterReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	cl, err := a.Fleet.AddCluster(c.UserContext(), req.toDomain())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toClusterDTO(cl, false, nil))
}

func (a *API) initCluster(c *fiber.Ctx) error {
	var req initReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	cl, err := a.Fleet.InitCluster(c.UserContext(), swarm.InitCluster{
		NewCluster: req.toDomain(), AdvertiseAddr: req.AdvertiseAddr,
		ListenAddr: req.ListenAddr, ForceNewCluster: req.ForceNewCluster,
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toClusterDTO(cl, false, nil))
}

func (a *API) getCluster(c *fiber.Ctx) error {
	v, err := a.Fleet.GetCluster(c.UserContext(), c.Params("cluster"))
	if err != nil {
		return err
	}
	return c.JSON(toClusterDTO(v.Cluster, v.Default, v.Health))
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
		ch.TLS = tr.toStore()
	}
	cl, isDefault, err := a.Fleet.UpdateCluster(c.UserContext(), c.Params("cluster"), ch)
	if err != nil {
		return err
	}
	return c.JSON(toClusterDTO(cl, isDefault, nil))
}

func (a *API) deleteCluster(c *fiber.Ctx) error {
	if err := a.Fleet.DeleteCluster(c.UserContext(), c.Params("cluster")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) refreshCluster(c *fiber.Ctx) error {
	cl, isDefault, err := a.Fleet.RefreshCluster(c.UserContext(), c.Params("cluster"))
	if err != nil {
		return err
	}
	return c.JSON(toClusterDTO(cl, isDefault, nil))
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
