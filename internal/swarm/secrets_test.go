package swarm

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
)

func ptr(s string) *string { return &s }

func TestPayload(t *testing.T) {
	const value = "hunter2-value"
	for _, tc := range []struct {
		name             string
		data, dataBase64 *string
		limit            int
		want             []byte
		field            string
	}{
		{"text", ptr(value), nil, maxSecretSize, []byte(value), ""},
		{"base64", nil, ptr(base64.StdEncoding.EncodeToString([]byte{0, 0xff, 'x'})), maxSecretSize, []byte{0, 0xff, 'x'}, ""},
		{"base64 without padding", nil, ptr("aHVudGVyMg"), maxSecretSize, []byte("hunter2"), ""},
		{"just under the limit", ptr(strings.Repeat("x", 9)), nil, 10, []byte(strings.Repeat("x", 9)), ""},
		{"at the limit", ptr(strings.Repeat("x", 10)), nil, 10, nil, "data"},
		{"decoded size counts", nil, ptr(base64.StdEncoding.EncodeToString(make([]byte, 10))), 10, nil, "data_base64"},
		{"neither", nil, nil, maxSecretSize, nil, "data"},
		{"both", ptr(value), ptr("eA=="), maxSecretSize, nil, "data_base64"},
		{"empty text", ptr(""), nil, maxSecretSize, nil, "data"},
		{"empty base64", nil, ptr(""), maxSecretSize, nil, "data_base64"},
		{"not base64", nil, ptr(value + "!"), maxSecretSize, nil, "data_base64"},
		{"URL alphabet", nil, ptr("-_-_"), maxSecretSize, nil, "data_base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := payload("secret", tc.data, tc.dataBase64, tc.limit)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(got, tc.want); diff != "" {
					t.Errorf("bytes (-got +want):\n%s", diff)
				}
				return
			}
			pe, ok := errs.Public(err)
			if !ok || pe.Kind != errs.ErrInvalid || pe.Field != tc.field {
				t.Fatalf("error %v, want invalid %s", err, tc.field)
			}
			if strings.Contains(err.Error(), value) || strings.Contains(err.Error(), "xxxxxxxxx") {
				t.Errorf("the error quotes the data: %v", err)
			}
		})
	}
}

func TestValidSecretName(t *testing.T) {
	for name, ok := range map[string]bool{
		"db_password": true, "db.password-2": true, "a": true, strings.Repeat("a", 64): true,
		"": false, "-db": false, "db.": false, "db password": false, "db/password": false, strings.Repeat("a", 65): false,
	} {
		if err := validSecretName("secret", name); (err == nil) != ok {
			t.Errorf("%q: %v, want valid %v", name, err, ok)
		}
	}
}

func TestSecretSummaryAndDetail(t *testing.T) {
	s := swarm.Secret{ID: "s1"}
	s.Spec.Name = "db_pw"
	s.Spec.Labels = map[string]string{StackLabel: "shop"}
	s.Spec.Data = []byte("never")
	s.Spec.Driver = &swarm.Driver{Name: "vault"}
	sum := summarizeSecret(s)
	if sum.Stack != "shop" || sum.Driver != "vault" || sum.Name != "db_pw" {
		t.Errorf("summary %+v", sum)
	}
	if got := withoutData(s); got.Spec.Data != nil || s.Spec.Data == nil {
		t.Errorf("withoutData must clear its copy only: %q / %q", got.Spec.Data, s.Spec.Data)
	}
}

func TestConfigDetail(t *testing.T) {
	text := swarm.Config{ID: "c1"}
	text.Spec.Data = []byte("listen 80;\n")
	d := configDetail(text)
	if d.Data == nil || *d.Data != "listen 80;\n" || d.DataBase64 != base64.StdEncoding.EncodeToString(text.Spec.Data) || d.Summary.Size != 11 {
		t.Errorf("text config: %+v", d)
	}
	bin := swarm.Config{ID: "c2"}
	bin.Spec.Data = []byte{0xff, 0xfe, 0}
	d = configDetail(bin)
	if d.Data != nil || d.DataBase64 != "//4A" || d.Summary.Labels == nil {
		t.Errorf("binary config: %+v", d)
	}
}
