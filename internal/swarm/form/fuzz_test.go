package form

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/swarmops/swarmops/internal/errs"
)

// FuzzApply decodes a request body into a form and applies it onto a new
// and onto a running service. It must never panic; every outcome is either
// a spec or an ErrInvalid that leaves the spec alone; what Apply makes,
// FromSpec must reproduce; and any input is answered within fuzzBound
// (the limits of limits.go bound the work, whatever the items say).
func FuzzApply(f *testing.F) {
	rich, err := json.Marshal(FromSpec(richSpec(), testRefs))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{}`,
		`{"image":"nginx:1.27"}`,
		string(rich),
		`{"name":"web","image":"nginx:1.27","mode":"replicated","replicas":3,"env":["K=V"],"labels":{"k":"v"},` +
			`"ports":["8080:80","53:53/udp","mode=host,target=80,published=8081"],` +
			`"mounts":["type=volume,src=data,dst=/data","type=bind,src=/srv,dst=/srv,readonly"],` +
			`"networks":["backend"],"constraints":["node.role==worker"],"placement_prefs":["spread=node.labels.zone"],` +
			`"secrets":["source=db_pw,target=/run/secrets/db_pw"],"configs":["source=app_cfg,target=/etc/app.conf"],` +
			`"resources":{"limit_cpus":"0.5","limit_memory":"256M","reserve_cpus":"","reserve_memory":""},` +
			`"update_config":{"parallelism":1,"delay":"10s","failure_action":"rollback","order":"start-first","monitor":"5s"},` +
			`"rollback_config":{"parallelism":1,"delay":"0s","order":"stop-first"},` +
			`"restart_policy":{"condition":"any","delay":"5s","max_attempts":0},` +
			`"healthcheck":{"test":["CMD","/bin/true"],"interval":"10s","timeout":"3s","retries":3},` +
			`"hostname":"","user":"","workdir":"","stop_grace_period":"10s","read_only":false}`,
		`{"update_config":{"delay":"20s"}}`,
		`{"mode":"global","replicas":2}`,
		`{"ports":["8000-8002:80","mode=host,target=80"],"mounts":["type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777"]}`,
		`{"resources":{"limit_cpus":"9223372036.854775807","limit_memory":"8E"}}`,
		`{"healthcheck":{"test":["NONE"],"retries":-1}}`,
		`{"networks":["name=front,alias=web,driver-opt=a=b"],"secrets":["db_pw"]}`,
		`{"ports":["0-65535:0-65535","0-65535:0-65535","0-65535:0-65535","0-65535:0-65535","0-65535:0-65535"]}`,
		`{"ports":["1-65535:1-65535","1-65535","1-65535:80","1-65535:abc","x-1:1-65535"]}`,
		`{"ports":["1-1024","1025-2048:1025-2048","2049-3072/udp","30000-31022:8080","mode=host,target=9000,published=9000"]}`,
		`{"ports":[` + strings.TrimSuffix(strings.Repeat(`"1-1024",`, 100), ",") + `]}`,
		`{"env":[` + strings.TrimSuffix(strings.Repeat(`"K=V",`, MaxListItems+1), ",") + `]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var form Service
		if json.Unmarshal(body, &form) != nil {
			return
		}

		var created swarm.ServiceSpec
		start := time.Now()
		err := form.Apply(&created, testRefs)
		checkFuzzTime(t, "Apply onto a new spec", start)
		checkFuzzError(t, err)
		start = time.Now()
		verr := form.Validate()
		checkFuzzTime(t, "Validate", start)
		checkFuzzError(t, verr)
		if verr != nil && err == nil {
			t.Fatalf("Validate refuses what Apply takes: %v", verr)
		}
		if err != nil {
			if diff := cmp.Diff(swarm.ServiceSpec{}, created); diff != "" {
				t.Fatalf("failed Apply changed the new spec (-want +got):\n%s", diff)
			}
		} else {
			again := FromSpec(created, testRefs)
			var recreated swarm.ServiceSpec
			if err := again.Apply(&recreated, testRefs); err != nil {
				t.Fatalf("Apply of FromSpec's form: %v", err)
			}
			if diff := cmp.Diff(created, recreated, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("FromSpec doesn't reproduce the spec (-want +got):\n%s", diff)
			}
		}

		running := richSpec()
		start = time.Now()
		err = form.Apply(&running, testRefs)
		checkFuzzTime(t, "Apply onto a running spec", start)
		checkFuzzError(t, err)
		if err != nil {
			if diff := cmp.Diff(richSpec(), running); diff != "" {
				t.Fatalf("failed Apply changed the running spec (-want +got):\n%s", diff)
			}
			return
		}
		// Applying the same PATCH twice changes nothing more.
		twice := running
		if err := form.Apply(&twice, testRefs); err != nil {
			t.Fatalf("second Apply: %v", err)
		}
		if diff := cmp.Diff(running, twice); diff != "" {
			t.Fatalf("Apply is not idempotent (-once +twice):\n%s", diff)
		}
	})
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.ErrInvalid || e.Field == "" || e.Message == "" {
		t.Fatalf("error %v (%T) is not an ErrInvalid naming a field", err, err)
	}
}

// fuzzBound is how long one Apply or Validate of any form may take. The
// worst form the limits allow takes milliseconds; the bound is generous
// for slow, loaded or race-instrumented runs, and far below the seconds
// that unbounded port ranges used to cost.
const fuzzBound = 2 * time.Second

func checkFuzzTime(t *testing.T, what string, start time.Time) {
	t.Helper()
	if d := time.Since(start); d > fuzzBound {
		t.Fatalf("%s took %v, more than %v", what, d, fuzzBound)
	}
}
