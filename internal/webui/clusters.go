package webui

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm"
)

// clusterRow is a registered cluster with its banner colour.
type clusterRow struct {
	swarm.ClusterView
	Ref ClusterRef
}

type clusterListPage struct {
	Base
	Rows []clusterRow
}

// clusterList lists the registrations; it costs no engine call (the fleet
// page shows health).
func (u *UI) clusterList(c *fiber.Ctx) error {
	b, err := u.base(c, "Clusters", "clusters", "")
	if err != nil {
		return err
	}
	views, err := u.Fleet.ListClusters(ctx(c), swarm.Filter{}, false)
	if err != nil {
		return err
	}
	rows := make([]clusterRow, len(views))
	for i, v := range views {
		rows[i] = clusterRow{ClusterView: v, Ref: clusterRef(v.Name, v.Labels)}
	}
	return u.tpl.render(c, fiber.StatusOK, "clusters_list", clusterListPage{Base: b, Rows: rows})
}

// clusterForm is the register and init form as the user filled it in. It
// holds no private key: a form shown again after an error never carries
// one back to the browser.
type clusterForm struct {
	Name, Endpoint, Labels    string
	AdvertiseAddr, ListenAddr string
	ForceNewCluster           bool
	// CA and Cert are the certificates given (by file or pasted), shown
	// again in the paste boxes; KeyGiven says a key must be given again.
	CA, Cert string
	KeyGiven bool
}

type clusterFormPage struct {
	Base
	Init   bool // swarm init on an engine, rather than registering a swarm
	Form   clusterForm
	Errors map[string]string
}

func (u *UI) clusterNew(c *fiber.Ctx) error {
	return u.renderClusterForm(c, fiber.StatusOK, false, clusterForm{}, nil)
}

func (u *UI) clusterInitForm(c *fiber.Ctx) error {
	return u.renderClusterForm(c, fiber.StatusOK, true, clusterForm{}, nil)
}

func (u *UI) renderClusterForm(c *fiber.Ctx, status int, init bool, f clusterForm, problems map[string]string) error {
	title := "Register a swarm"
	if init {
		title = "Init a new swarm"
	}
	b, err := u.base(c, title, "clusters", "")
	if err != nil {
		return err
	}
	return u.tpl.render(c, status, "clusters_form", clusterFormPage{Base: b, Init: init, Form: f, Errors: problems})
}

// clusterFormFailed shows the form again for errors that belong to it.
func (u *UI) clusterFormFailed(c *fiber.Ctx, init bool, f clusterForm, err error) error {
	problems, status, ok := formProblems(err, "")
	if !ok {
		return err
	}
	return u.renderClusterForm(c, status, init, f, problems)
}

func (u *UI) clusterCreate(c *fiber.Ctx) error {
	f, n, err := bindNewCluster(c)
	if err == nil {
		var v swarm.ClusterView
		if v, err = u.Fleet.AddCluster(ctx(c), n); err == nil {
			return redirect(c, "/clusters/"+url.PathEscape(v.Name), "ok",
				"Registered cluster %s with %s.", v.Name, plural(len(v.Endpoints), "manager endpoint"))
		}
	}
	return u.clusterFormFailed(c, false, f, err)
}

func (u *UI) clusterInit(c *fiber.Ctx) error {
	f, n, err := bindNewCluster(c)
	in := swarm.InitCluster{NewCluster: n, AdvertiseAddr: f.AdvertiseAddr, ListenAddr: f.ListenAddr, ForceNewCluster: f.ForceNewCluster}
	if err == nil {
		var v swarm.ClusterView
		if v, err = u.Fleet.InitCluster(ctx(c), in); err == nil {
			return redirect(c, "/clusters/"+url.PathEscape(v.Name), "ok",
				"Made a new swarm on %s and registered it as %s.", in.Endpoint, v.Name)
		}
	}
	return u.clusterFormFailed(c, true, f, err)
}

// bindNewCluster reads the register or init form; the form answered is
// what to show again when the request fails.
func bindNewCluster(c *fiber.Ctx) (clusterForm, swarm.NewCluster, error) {
	f := clusterForm{
		Name: strings.TrimSpace(c.FormValue("name")), Endpoint: strings.TrimSpace(c.FormValue("endpoint")),
		Labels: c.FormValue("labels"), AdvertiseAddr: strings.TrimSpace(c.FormValue("advertise_addr")),
		ListenAddr: strings.TrimSpace(c.FormValue("listen_addr")), ForceNewCluster: c.FormValue("force_new_cluster") == "on",
	}
	n := swarm.NewCluster{Name: f.Name, Endpoint: f.Endpoint}
	t, err := bindTLS(c)
	if t != nil {
		f.CA, f.Cert, f.KeyGiven = t.CA, t.Cert, t.Key != ""
		n.TLS = t
	}
	if err != nil {
		return f, n, err
	}
	n.Labels, err = parseLabelLines("labels", f.Labels)
	return f, n, err
}

type clusterDetailPage struct {
	Base
	View swarm.ClusterView
	Ref  ClusterRef
	// Tokens are the join tokens (admins only); TokensError says why
	// they could not be read.
	Tokens      *swarm.JoinTokens
	TokensError string
}

// clusterDetail shows a registration with its health, probed now; the
// health part refreshes itself every 15 s (the join tokens are not read
// again for that).
// joinCommand is one role's join token, as the page shows it.
type joinCommand struct{ Role, Token, Addr string }

// JoinCommands are the worker's and the manager's join tokens, in that
// order; none without tokens.
func (p clusterDetailPage) JoinCommands() []joinCommand {
	if p.Tokens == nil {
		return nil
	}
	return []joinCommand{{"worker", p.Tokens.Worker, p.Tokens.ManagerAddr}, {"manager", p.Tokens.Manager, p.Tokens.ManagerAddr}}
}

func (u *UI) clusterDetail(c *fiber.Ctx) error {
	name := c.Params("cluster")
	b, err := u.base(c, name, "clusters", name)
	if err != nil {
		return err
	}
	b.Live, b.Refresh = "", 15
	v, err := u.Fleet.GetCluster(ctx(c), name)
	if err != nil {
		return err
	}
	p := clusterDetailPage{Base: b, View: v, Ref: clusterRef(v.Name, v.Labels)}
	if b.Can("cluster.join_tokens") && c.Get("X-SwarmOps-Live") == "" {
		if jt, err := u.Fleet.JoinTokens(ctx(c), name); err != nil {
			_, body, _ := httpx.Classify(err)
			p.TokensError = body.Message
		} else {
			p.Tokens = &jt
		}
	}
	return u.tpl.render(c, fiber.StatusOK, "clusters_detail", p)
}

// clusterEditForm is the edit form as shown or filled in.
type clusterEditForm struct {
	Endpoints    string // one per line
	EndpointsWas string // as they were when the form was shown
	Labels       string // K=V lines
	Default      bool
	RemoveTLS    bool
	CA, Cert     string
	KeyGiven     bool
}

type clusterEditPage struct {
	Base
	View   swarm.ClusterView
	Form   clusterEditForm
	Errors map[string]string
}

func (u *UI) clusterEdit(c *fiber.Ctx) error {
	name := c.Params("cluster")
	b, err := u.base(c, "Edit "+name, "clusters", name)
	if err != nil {
		return err
	}
	v := b.selected
	eps := strings.Join(v.Endpoints, "\n")
	f := clusterEditForm{Endpoints: eps, EndpointsWas: eps, Labels: labelText(v.Labels), Default: v.Default}
	return u.tpl.render(c, fiber.StatusOK, "clusters_edit", clusterEditPage{Base: b, View: v, Form: f})
}

func (u *UI) clusterUpdate(c *fiber.Ctx) error {
	name := c.Params("cluster")
	f, ch, err := bindClusterChange(c)
	if err == nil {
		if _, err = u.Fleet.UpdateCluster(ctx(c), name, ch); err == nil {
			return redirect(c, "/clusters/"+url.PathEscape(name), "ok", "Saved cluster %s.", name)
		}
	}
	problems, status, ok := formProblems(err, "")
	if !ok {
		return err
	}
	if msg, probed := problems["endpoint"]; probed { // an endpoint that did not answer as a manager
		problems = map[string]string{"endpoints": msg}
	}
	b, berr := u.base(c, "Edit "+name, "clusters", name)
	if berr != nil {
		return berr
	}
	return u.tpl.render(c, status, "clusters_edit", clusterEditPage{Base: b, View: b.selected, Form: f, Errors: problems})
}

// bindClusterChange reads the edit form. Endpoints are sent only when
// they were changed (sending them makes the domain probe each one);
// labels and the default mark always (they replace).
func bindClusterChange(c *fiber.Ctx) (clusterEditForm, swarm.ClusterChange, error) {
	f := clusterEditForm{
		Endpoints: c.FormValue("endpoints"), EndpointsWas: c.FormValue("endpoints_was"), Labels: c.FormValue("labels"),
		Default: c.FormValue("default") == "on", RemoveTLS: c.FormValue("remove_tls") == "on",
	}
	ch := swarm.ClusterChange{Default: &f.Default, ClearTLS: f.RemoveTLS}
	if eps := nonEmptyLines(f.Endpoints); !slices.Equal(eps, nonEmptyLines(f.EndpointsWas)) {
		ch.Endpoints = eps
		if ch.Endpoints == nil {
			ch.Endpoints = []string{}
		}
	}
	t, err := bindTLS(c)
	if t != nil {
		f.CA, f.Cert, f.KeyGiven = t.CA, t.Cert, t.Key != ""
		ch.TLS = t
		if f.RemoveTLS {
			return f, ch, errs.Invalid("tls", "either give new TLS files or remove TLS, not both")
		}
	}
	if err != nil {
		return f, ch, err
	}
	ch.Labels, err = parseLabelLines("labels", f.Labels)
	return f, ch, err
}

func (u *UI) clusterRefresh(c *fiber.Ctx) error {
	v, err := u.Fleet.RefreshCluster(ctx(c), c.Params("cluster"))
	if err != nil {
		return err
	}
	return redirect(c, "/clusters/"+url.PathEscape(v.Name), "ok",
		"Re-discovered the managers of %s: %s.", v.Name, plural(len(v.Endpoints), "endpoint"))
}

func (u *UI) clusterDelete(c *fiber.Ctx) error {
	name := c.Params("cluster")
	if err := u.Fleet.DeleteCluster(ctx(c), name); err != nil {
		return err
	}
	return redirect(c, "/clusters", "ok", "Forgot cluster %s; the swarm itself is untouched.", name)
}

func (u *UI) clusterRotateToken(c *fiber.Ctx) error {
	name, role := c.Params("cluster"), c.FormValue("role")
	if _, err := u.Fleet.RotateJoinToken(ctx(c), name, role); err != nil {
		return err
	}
	return redirect(c, "/clusters/"+url.PathEscape(name)+"#join-tokens", "ok",
		"Rotated the %s join token of %s: the old one no longer joins nodes.", role, name)
}

// maxPEM bounds one uploaded or pasted PEM file.
const maxPEM = 64 << 10

// bindTLS reads the CA, client certificate and key of a cluster form, each
// from its file input or, when no file was chosen, its paste box. It
// answers nil when none was given. A key is kept only in the answer.
func bindTLS(c *fiber.Ctx) (*swarm.TLS, error) {
	var t swarm.TLS
	for _, p := range []struct {
		part string
		dst  *string
	}{{"ca", &t.CA}, {"cert", &t.Cert}, {"key", &t.Key}} {
		v, err := pemInput(c, p.part)
		if err != nil {
			return nil, err
		}
		*p.dst = v
	}
	if t == (swarm.TLS{}) {
		return nil, nil
	}
	return &t, nil
}

// pemInput reads the PEM text of tls_<part>_file, else of tls_<part>.
func pemInput(c *fiber.Ctx, part string) (string, error) {
	field := "tls." + part
	b, err := uploaded(c, "tls_"+part+"_file", field, maxPEM)
	if err != nil || b != nil {
		return strings.TrimSpace(string(b)), err
	}
	v := strings.TrimSpace(c.FormValue("tls_" + part))
	if len(v) > maxPEM {
		return "", errs.Invalid(field, "longer than %d KiB; expected PEM text", maxPEM>>10)
	}
	return v, nil
}

// plural says "1 endpoint" or "3 endpoints".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
