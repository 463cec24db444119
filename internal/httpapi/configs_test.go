package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

type configDetailAnswer struct {
	Summary struct {
		ID     string            `json:"id"`
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
		Size   int               `json:"size"`
	} `json:"summary"`
	Data       *string `json:"data"`
	DataBase64 string  `json:"data_base64"`
	Config     struct {
		ID   string
		Spec struct{ Name string }
	} `json:"config"`
}

func TestConfigs_Lifecycle(t *testing.T) {
	swm, _, admin := sharedCluster(t, "cf")
	const base = "/api/v1/clusters/cf/configs"
	m := swm.Managers[0]
	const text = "listen 8080;\nserver_name café;\n"
	binary := []byte{0xff, 0xfe, 0, 1, 2}

	var s struct{ ID, Name string }
	admin.MustDo(http.MethodPost, base, map[string]any{"name": "cf-text", "data": text, "labels": map[string]string{"app": "cf"}}, &s, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, base+"/cf-text", nil, nil) })
	admin.MustDo(http.MethodPost, base, map[string]any{"name": "cf-bin", "data_base64": base64.StdEncoding.EncodeToString(binary)}, nil, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, base+"/cf-bin", nil, nil) })
	wantStatus(t, admin, http.MethodPost, base, map[string]any{"name": "cf-text", "data": "other"}, 409, "already exists")

	for _, ref := range []string{"cf-text", s.ID, s.ID[:7]} {
		var d configDetailAnswer
		admin.MustDo(http.MethodGet, base+"/"+ref, nil, &d, 200)
		if d.Data == nil || *d.Data != text || d.DataBase64 != base64.StdEncoding.EncodeToString([]byte(text)) ||
			d.Summary.ID != s.ID || d.Summary.Size != len(text) || d.Summary.Labels["app"] != "cf" || d.Config.Spec.Name != "cf-text" {
			t.Errorf("GET configs/%s answered %+v", ref, d)
		}
	}
	var d configDetailAnswer
	admin.MustDo(http.MethodGet, base+"/cf-bin", nil, &d, 200)
	if d.Data != nil || d.DataBase64 != base64.StdEncoding.EncodeToString(binary) {
		t.Errorf("binary config answered data %v, data_base64 %q", d.Data, d.DataBase64)
	}
	// What the engine holds is what was sent.
	if out := m.Docker(t, "config", "inspect", "--format", "{{json .Spec.Data}}", "cf-bin"); strings.TrimSpace(out) != `"`+base64.StdEncoding.EncodeToString(binary)+`"` {
		t.Errorf("the engine holds %s", out)
	}

	var l struct {
		Items []struct{ Name string }
		Total int
	}
	admin.MustDo(http.MethodGet, base+"?q=cf-", nil, &l, 200)
	if l.Total != 2 || l.Items[0].Name != "cf-bin" || l.Items[1].Name != "cf-text" {
		t.Errorf("?q=cf- listed %+v", l.Items)
	}
	admin.MustDo(http.MethodGet, base+"?label=app=cf", nil, &l, 200)
	if l.Total != 1 || l.Items[0].Name != "cf-text" {
		t.Errorf("?label=app=cf listed %+v", l.Items)
	}

	createService(t, m, "cf-user", "--replicas", "0", "--config", "source=cf-text,target=/etc/cf.conf")
	wantStatus(t, admin, http.MethodDelete, base+"/cf-text", nil, 409, "cf-user")
	if err := m.Client().ServiceRemove(t.Context(), "cf-user"); err != nil {
		t.Fatal(err)
	}
	admin.MustDo(http.MethodDelete, base+"/cf-text", nil, nil, 204)
	admin.MustDo(http.MethodDelete, base+"/cf-bin", nil, nil, 204)
	wantStatus(t, admin, http.MethodGet, base+"/cf-text", nil, 404, `"cf-text"`, `"cf"`)

	for _, a := range []string{"config.create", "config.remove"} {
		if !auditHas(t, admin, "cf", a, "cf-text") {
			t.Errorf("no successful %s of cf-text in the audit", a)
		}
	}
}

func TestConfigs_BadInput(t *testing.T) {
	_, _, admin := sharedCluster(t, "cfb")
	const base = "/api/v1/clusters/cfb/configs"
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"data": "x"}, "name"},
		{map[string]any{"name": "cfb/bad", "data": "x"}, "name"},
		{map[string]any{"name": "cfb-a"}, "data"},
		{map[string]any{"name": "cfb-a", "data": ""}, "data"},
		{map[string]any{"name": "cfb-a", "data": strings.Repeat("x", 1000*1024)}, "data"},
		{map[string]any{"name": "cfb-a", "data_base64": "%%%"}, "data_base64"},
		{map[string]any{"name": "cfb-a", "data": "x", "data_base64": "eA=="}, "data_base64"},
		{map[string]any{"name": "cfb-a", "data": "x", "labels": []string{"a"}}, "labels"},
		{map[string]any{"name": "cfb-a", "data": "x", "templating": "golang"}, "templating"},
	} {
		wantBadField(t, admin, http.MethodPost, base, tc.body, tc.field)
	}
	var l struct{ Total int }
	admin.MustDo(http.MethodGet, base+"?q=cfb", nil, &l, 200)
	if l.Total != 0 {
		t.Errorf("refused requests created %d configs", l.Total)
	}
	wantStatus(t, admin, http.MethodGet, base+"/cfb-nope", nil, 404, `"cfb-nope"`, `"cfb"`)
	wantStatus(t, admin, http.MethodDelete, base+"/cfb-nope", nil, 404, `"cfb-nope"`, `"cfb"`)
}
