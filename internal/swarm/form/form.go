package form

// Service is the service form of the API contract. Every field is optional
// and a nil field was not given: Apply leaves the matching part of the spec
// alone. A given empty value clears ("env": [] removes every variable,
// "hostname": "" the hostname). Strings use the docker CLI's syntax for the
// flag of the same meaning.
type Service struct {
	Name  *string `json:"name,omitempty"`
	Image *string `json:"image,omitempty"`
	// Mode is "replicated" (the default) or "global". Swarm can't change
	// it once a service exists.
	Mode     *string `json:"mode,omitempty"`
	Replicas *uint64 `json:"replicas,omitempty"`
	// Command replaces the image's ENTRYPOINT (docker service create
	// --entrypoint) and Args its CMD (the words after the image).
	Command *[]string `json:"command,omitempty"`
	Args    *[]string `json:"args,omitempty"`
	// Env holds "KEY=value" items.
	Env *[]string `json:"env,omitempty"`
	// Labels are the service's labels, ContainerLabels its containers'.
	// Either replaces the whole map, except that the stack labels
	// (com.docker.stack.*) of the current spec are kept unless the map sets
	// them: editing labels doesn't take a service out of its stack.
	Labels          *map[string]string `json:"labels,omitempty"`
	ContainerLabels *map[string]string `json:"container_labels,omitempty"`
	// Ports are "[published:]target[/protocol]" or
	// "mode=host,target=80,published=8081,protocol=tcp".
	Ports *[]string `json:"ports,omitempty"`
	// Mounts use --mount's syntax: "type=volume,src=data,dst=/data".
	Mounts *[]string `json:"mounts,omitempty"`
	// Networks are names ("backend") or "name=backend,alias=web,driver-opt=k=v".
	Networks *[]string `json:"networks,omitempty"`
	// Constraints are "node.role==worker", "node.labels.zone!=b", ...
	Constraints *[]string `json:"constraints,omitempty"`
	// PlacementPrefs are "spread=node.labels.zone".
	PlacementPrefs *[]string `json:"placement_prefs,omitempty"`
	// Secrets and Configs are names ("db_pw") or
	// "source=db_pw,target=/run/secrets/db_pw,uid=0,gid=0,mode=0400".
	Secrets *[]string `json:"secrets,omitempty"`
	Configs *[]string `json:"configs,omitempty"`

	Resources      *Resources     `json:"resources,omitempty"`
	UpdateConfig   *UpdateConfig  `json:"update_config,omitempty"`
	RollbackConfig *UpdateConfig  `json:"rollback_config,omitempty"`
	RestartPolicy  *RestartPolicy `json:"restart_policy,omitempty"`
	Healthcheck    *Healthcheck   `json:"healthcheck,omitempty"`

	Hostname *string `json:"hostname,omitempty"`
	User     *string `json:"user,omitempty"`
	Workdir  *string `json:"workdir,omitempty"`
	// StopGracePeriod is a Go duration ("10s"); "" restores the default.
	StopGracePeriod *string `json:"stop_grace_period,omitempty"`
	ReadOnly        *bool   `json:"read_only,omitempty"`

	// ResolveImage asks the domain to pin the image to its registry digest
	// before sending the spec. It is a request option, not part of the
	// spec: Apply ignores it and FromSpec never sets it.
	ResolveImage *bool `json:"resolve_image,omitempty"`
}

// Resources are the task's limits and reservations. CPUs are decimal
// strings ("0.5"), memory sizes like "256M" or "1g"; "" removes the value.
type Resources struct {
	LimitCPUs     *string `json:"limit_cpus,omitempty"`
	LimitMemory   *string `json:"limit_memory,omitempty"`
	ReserveCPUs   *string `json:"reserve_cpus,omitempty"`
	ReserveMemory *string `json:"reserve_memory,omitempty"`
}

// UpdateConfig is how a rolling update (or, as rollback_config, a rollback)
// proceeds. Durations are Go durations ("10s", "1m30s").
type UpdateConfig struct {
	Parallelism *uint64 `json:"parallelism,omitempty"`
	Delay       *string `json:"delay,omitempty"`
	// FailureAction is "pause", "continue" or (updates only) "rollback".
	FailureAction *string `json:"failure_action,omitempty"`
	// Order is "stop-first" or "start-first".
	Order           *string  `json:"order,omitempty"`
	Monitor         *string  `json:"monitor,omitempty"`
	MaxFailureRatio *float32 `json:"max_failure_ratio,omitempty"`
}

// RestartPolicy says when swarm restarts a task. Condition is "none",
// "on-failure" or "any"; Delay and Window are Go durations.
type RestartPolicy struct {
	Condition   *string `json:"condition,omitempty"`
	Delay       *string `json:"delay,omitempty"`
	MaxAttempts *uint64 `json:"max_attempts,omitempty"`
	Window      *string `json:"window,omitempty"`
}

// Healthcheck overrides the image's HEALTHCHECK. Test is ["CMD", arg...],
// ["CMD-SHELL", "command"], ["NONE"] (disabled), or [] (the image's own).
type Healthcheck struct {
	Test        *[]string `json:"test,omitempty"`
	Interval    *string   `json:"interval,omitempty"`
	Timeout     *string   `json:"timeout,omitempty"`
	Retries     *int      `json:"retries,omitempty"`
	StartPeriod *string   `json:"start_period,omitempty"`
}

// Refs resolves the names a form refers to into engine IDs. The domain
// implements it with engine lookups, one value per request (so it carries
// that request's context). A name that doesn't exist must be reported with
// an error that errors.Is errs.ErrNotFound; Apply turns it into a 400 on the
// field. Any other error is returned by Apply as it is.
type Refs interface {
	NetworkID(name string) (string, error)
	SecretID(name string) (string, error)
	ConfigID(name string) (string, error)
}

// Names gives FromSpec the name of a network the spec holds by ID. Secret
// and config references carry their names already. A network that is gone
// should be answered with its ID.
type Names interface {
	NetworkName(id string) string
}
