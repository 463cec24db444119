package form

import (
	"fmt"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/swarm"
)

// This file applies the resource, update, rollback, restart and
// healthcheck parts of the form; apply.go the identity and the container.

func (a *applier) applyResources(r *Resources) {
	if r == nil {
		return
	}
	// The objects are made on demand: "resources": {} changes nothing.
	t := &a.spec.TaskTemplate
	resources := func() *swarm.ResourceRequirements {
		if t.Resources == nil {
			t.Resources = &swarm.ResourceRequirements{}
		}
		return t.Resources
	}
	limits := func() *swarm.Limit {
		if resources().Limits == nil {
			t.Resources.Limits = &swarm.Limit{}
		}
		return t.Resources.Limits
	}
	reservations := func() *swarm.Resources {
		if resources().Reservations == nil {
			t.Resources.Reservations = &swarm.Resources{}
		}
		return t.Resources.Reservations
	}
	cpus := func(field string, s *string, set func(int64)) {
		if s == nil {
			return
		}
		n, err := parseCPUs(*s)
		switch {
		case err != nil:
			a.invalid(field, "%v", err)
		case n != 0 && n < minNanoCPUs:
			a.invalid(field, `swarm takes at least 0.001 CPUs, got %s; "" removes the value`, quoteInput(*s))
		default:
			set(n)
		}
	}
	memory := func(field string, s *string, set func(int64)) {
		if s == nil {
			return
		}
		n, err := parseMemory(*s)
		switch {
		case err != nil:
			a.invalid(field, "%v", err)
		case n != 0 && n < minMemoryBytes:
			a.invalid(field, `swarm takes at least 4M, got %s; "" removes the value`, quoteInput(*s))
		default:
			set(n)
		}
	}
	cpus("resources.limit_cpus", r.LimitCPUs, func(n int64) { limits().NanoCPUs = n })
	memory("resources.limit_memory", r.LimitMemory, func(n int64) { limits().MemoryBytes = n })
	cpus("resources.reserve_cpus", r.ReserveCPUs, func(n int64) { reservations().NanoCPUs = n })
	memory("resources.reserve_memory", r.ReserveMemory, func(n int64) { reservations().MemoryBytes = n })

	// The node's engine refuses to start a container whose memory
	// reservation exceeds its limit; the tasks would fail one by one.
	if t.Resources == nil {
		return
	}
	if l, rv := t.Resources.Limits, t.Resources.Reservations; l != nil && rv != nil &&
		l.MemoryBytes != 0 && rv.MemoryBytes > l.MemoryBytes {
		a.invalid("resources.reserve_memory", "the reservation (%s) exceeds the limit (%s)",
			formatMemory(rv.MemoryBytes), formatMemory(l.MemoryBytes))
	}
}

// Swarm's floors for a resource value other than 0 (none).
const (
	minNanoCPUs    = 1e6
	minMemoryBytes = 4 << 20
)

// applyUpdateConfig applies update_config or rollback_config. A spec
// without one gets swarm's defaults first: a zero UpdateConfig would mean
// parallelism 0, every task at once.
func (a *applier) applyUpdateConfig(field string, u *UpdateConfig, dst **swarm.UpdateConfig) {
	if u == nil {
		return
	}
	if *dst == nil {
		*dst = &swarm.UpdateConfig{Parallelism: 1}
	}
	c := *dst
	if u.Parallelism != nil {
		c.Parallelism = *u.Parallelism
	}
	if u.Delay != nil {
		a.duration(field+".delay", *u.Delay, func(d time.Duration) { c.Delay = d })
	}
	if u.Monitor != nil {
		a.duration(field+".monitor", *u.Monitor, func(d time.Duration) { c.Monitor = d })
	}
	if u.FailureAction != nil {
		actions := []string{"", swarm.UpdateFailureActionPause, swarm.UpdateFailureActionContinue, swarm.UpdateFailureActionRollback}
		syntax := `expected "pause", "continue" or "rollback"`
		if field == "rollback_config" { // a rollback can't roll back
			actions = actions[:3]
			syntax = `expected "pause" or "continue"`
		}
		if slices.Contains(actions, *u.FailureAction) {
			c.FailureAction = *u.FailureAction
		} else {
			a.invalid(field+".failure_action", "%s, got %s", syntax, quoteInput(*u.FailureAction))
		}
	}
	if u.Order != nil {
		switch *u.Order {
		case "", swarm.UpdateOrderStopFirst, swarm.UpdateOrderStartFirst:
			c.Order = *u.Order
		default:
			a.invalid(field+".order", `expected "stop-first" or "start-first", got %s`, quoteInput(*u.Order))
		}
	}
	if u.MaxFailureRatio != nil {
		if r := *u.MaxFailureRatio; r >= 0 && r <= 1 {
			c.MaxFailureRatio = r
		} else {
			a.invalid(field+".max_failure_ratio", "expected a fraction from 0 to 1, got %v", r)
		}
	}
}

func (a *applier) applyRestartPolicy(r *RestartPolicy) {
	if r == nil {
		return
	}
	t := &a.spec.TaskTemplate
	if t.RestartPolicy == nil {
		t.RestartPolicy = &swarm.RestartPolicy{}
	}
	p := t.RestartPolicy
	if r.Condition != nil {
		switch c := swarm.RestartPolicyCondition(*r.Condition); c {
		case "", swarm.RestartPolicyConditionNone, swarm.RestartPolicyConditionOnFailure, swarm.RestartPolicyConditionAny:
			p.Condition = c
		default:
			a.invalid("restart_policy.condition", `expected "none", "on-failure" or "any", got %s`, quoteInput(*r.Condition))
		}
	}
	if r.Delay != nil {
		a.optionalDuration("restart_policy.delay", *r.Delay, &p.Delay)
	}
	if r.Window != nil {
		a.optionalDuration("restart_policy.window", *r.Window, &p.Window)
	}
	if r.MaxAttempts != nil {
		p.MaxAttempts = new(*r.MaxAttempts)
	}
}

// minHealthDuration is the engine's floor for a healthcheck's durations
// other than 0 (which means the default).
const minHealthDuration = time.Millisecond

func (a *applier) applyHealthcheck(h *Healthcheck) {
	if h == nil {
		return
	}
	cs := a.container()
	if cs.Healthcheck == nil {
		cs.Healthcheck = &container.HealthConfig{}
	}
	hc := cs.Healthcheck
	if h.Test != nil {
		if err := checkHealthTest(*h.Test); err != nil {
			a.invalid("healthcheck.test", "%v", err)
		} else {
			hc.Test = nilIfEmpty(slices.Clone(*h.Test))
		}
	}
	for _, d := range []struct {
		field string
		given *string
		dst   *time.Duration
	}{
		{"healthcheck.interval", h.Interval, &hc.Interval},
		{"healthcheck.timeout", h.Timeout, &hc.Timeout},
		{"healthcheck.start_period", h.StartPeriod, &hc.StartPeriod},
	} {
		if d.given == nil {
			continue
		}
		a.duration(d.field, *d.given, func(v time.Duration) {
			if v != 0 && v < minHealthDuration {
				a.invalid(d.field, "must be 0 (the default) or at least %v, got %s", minHealthDuration, quoteInput(*d.given))
				return
			}
			*d.dst = v
		})
	}
	if h.Retries != nil {
		if *h.Retries < 0 {
			a.invalid("healthcheck.retries", "expected 0 (the default) or more, got %d", *h.Retries)
		} else {
			hc.Retries = *h.Retries
		}
	}
}

const healthTestSyntax = `expected ["CMD", "executable", "arg"...], ["CMD-SHELL", "command"], ["NONE"], or [] for the image's own`

func checkHealthTest(test []string) error {
	if len(test) == 0 {
		return nil
	}
	switch test[0] {
	case "NONE":
		if len(test) == 1 {
			return nil
		}
	case "CMD", "CMD-SHELL":
		if len(test) > 1 && test[1] != "" {
			return nil
		}
	}
	return fmt.Errorf("%s, got %s", healthTestSyntax, truncate(fmt.Sprintf("%q", test)))
}

// duration parses s into set; "" is 0, which the engine reads as its
// default.
func (a *applier) duration(field, s string, set func(time.Duration)) {
	if s == "" {
		set(0)
		return
	}
	d, err := parseDuration(s)
	if err != nil {
		a.invalid(field, "%v", err)
		return
	}
	set(d)
}

// optionalDuration parses s into *dst; "" unsets it.
func (a *applier) optionalDuration(field, s string, dst **time.Duration) {
	if s == "" {
		*dst = nil
		return
	}
	d, err := parseDuration(s)
	if err != nil {
		a.invalid(field, "%v", err)
		return
	}
	*dst = &d
}
