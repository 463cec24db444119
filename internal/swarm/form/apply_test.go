package form

import (
	"errors"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/swarmops/swarmops/internal/errs"
)

// TestApply_Create checks each field against the spec docker service
// create makes from the same flags (given in each case's comment), less
// the defaults the CLI spells out and the engine would apply anyway.
func TestApply_Create(t *testing.T) {
	withContainer := func(edit func(cs *swarm.ContainerSpec)) swarm.ServiceSpec {
		return spec(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{}
			edit(s.TaskTemplate.ContainerSpec)
		})
	}
	tests := []struct {
		name string
		form Service
		want swarm.ServiceSpec
	}{
		{
			name: "empty form",
			form: Service{},
			want: spec(nil),
		},
		{
			// --name web --replicas 3 nginx:1.27
			name: "name image replicas",
			form: Service{Name: new("web"), Image: new("nginx:1.27"), Replicas: new(uint64(3))},
			want: swarm.ServiceSpec{
				Annotations:  swarm.Annotations{Name: "web"},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "nginx:1.27"}},
				Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: new(uint64(3))}},
			},
		},
		{
			// --replicas 0
			name: "zero replicas",
			form: Service{Mode: new("replicated"), Replicas: new(uint64(0))},
			want: spec(func(s *swarm.ServiceSpec) { s.Mode.Replicated.Replicas = new(uint64(0)) }),
		},
		{
			// --mode global
			name: "global",
			form: Service{Mode: new("global")},
			want: spec(func(s *swarm.ServiceSpec) { s.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}} }),
		},
		{
			// --entrypoint /docker-entrypoint.sh nginx nginx -g "daemon off;"
			name: "command and args",
			form: Service{Command: &[]string{"/docker-entrypoint.sh"}, Args: &[]string{"nginx", "-g", "daemon off;"}},
			want: withContainer(func(cs *swarm.ContainerSpec) {
				cs.Command = []string{"/docker-entrypoint.sh"}
				cs.Args = []string{"nginx", "-g", "daemon off;"}
			}),
		},
		{
			// --env A=1 --env B= --env "C=x=y"
			name: "env",
			form: Service{Env: &[]string{"A=1", "B=", "C=x=y"}},
			want: withContainer(func(cs *swarm.ContainerSpec) { cs.Env = []string{"A=1", "B=", "C=x=y"} }),
		},
		{
			// --label team=web --label empty= --container-label tier=front
			name: "labels",
			form: Service{
				Labels:          &map[string]string{"team": "web", "empty": ""},
				ContainerLabels: &map[string]string{"tier": "front"},
			},
			want: spec(func(s *swarm.ServiceSpec) {
				s.Labels = map[string]string{"team": "web", "empty": ""}
				s.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Labels: map[string]string{"tier": "front"}}
			}),
		},
		{
			// --publish 8080:80 --publish 53:53/udp --publish mode=host,target=80,published=8081
			// --publish 9000 --publish 8000-8001:90-91/tcp --publish published=8443,target=443,protocol=sctp
			name: "ports",
			form: Service{Ports: &[]string{
				"8080:80", "53:53/udp", "mode=host,target=80,published=8081", "9000",
				"8000-8001:90-91/tcp", "published=8443,target=443,protocol=sctp",
			}},
			want: spec(func(s *swarm.ServiceSpec) {
				s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{
					{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"},
					{Protocol: "udp", TargetPort: 53, PublishedPort: 53, PublishMode: "ingress"},
					{Protocol: "tcp", TargetPort: 80, PublishedPort: 8081, PublishMode: "host"},
					{Protocol: "tcp", TargetPort: 9000, PublishedPort: 0, PublishMode: "ingress"},
					{Protocol: "tcp", TargetPort: 90, PublishedPort: 8000, PublishMode: "ingress"},
					{Protocol: "tcp", TargetPort: 91, PublishedPort: 8001, PublishMode: "ingress"},
					{Protocol: "sctp", TargetPort: 443, PublishedPort: 8443, PublishMode: "ingress"},
				}}
			}),
		},
		{
			// --mount type=volume,src=data,dst=/data
			// --mount type=bind,src=/srv,dst=/srv,readonly,bind-propagation=rslave
			// --mount type=tmpfs,dst=/cache,tmpfs-size=64m,tmpfs-mode=1777
			// --mount dst=/scratch (an anonymous volume)
			// --mount 'type=volume,source=nfs,target=/nfs,volume-driver=local,volume-opt=type=nfs,"volume-opt=o=addr=10.0.0.1,rw",volume-label=backup=daily,volume-nocopy'
			name: "mounts",
			form: Service{Mounts: &[]string{
				"type=volume,src=data,dst=/data",
				"type=bind,src=/srv,dst=/srv,readonly,bind-propagation=rslave",
				"type=tmpfs,dst=/cache,tmpfs-size=64m,tmpfs-mode=1777",
				"dst=/scratch",
				`type=volume,source=nfs,target=/nfs,volume-driver=local,volume-opt=type=nfs,"volume-opt=o=addr=10.0.0.1,rw",volume-label=backup=daily,volume-nocopy`,
			}},
			want: withContainer(func(cs *swarm.ContainerSpec) {
				cs.Mounts = []mount.Mount{
					{Type: mount.TypeVolume, Source: "data", Target: "/data"},
					{
						Type: mount.TypeBind, Source: "/srv", Target: "/srv", ReadOnly: true,
						BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave},
					},
					{
						Type: mount.TypeTmpfs, Target: "/cache",
						TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777},
					},
					{Type: mount.TypeVolume, Target: "/scratch"},
					{
						Type: mount.TypeVolume, Source: "nfs", Target: "/nfs",
						VolumeOptions: &mount.VolumeOptions{
							NoCopy: true,
							Labels: map[string]string{"backup": "daily"},
							DriverConfig: &mount.Driver{
								Name:    "local",
								Options: map[string]string{"type": "nfs", "o": "addr=10.0.0.1,rw"},
							},
						},
					},
				}
			}),
		},
		{
			// --constraint node.role==worker --constraint 'node.labels.zone != c'
			// --placement-pref spread=node.labels.zone
			name: "placement",
			form: Service{
				Constraints:    &[]string{"node.role==worker", "node.labels.zone != c", "node.ip==10.0.0.0/8"},
				PlacementPrefs: &[]string{"spread=node.labels.zone"},
			},
			want: spec(func(s *swarm.ServiceSpec) {
				s.TaskTemplate.Placement = &swarm.Placement{
					Constraints: []string{"node.role==worker", "node.labels.zone != c", "node.ip==10.0.0.0/8"},
					Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}},
				}
			}),
		},
		{
			// --limit-cpu 0.5 --limit-memory 256M --reserve-cpu .25 --reserve-memory 128m
			name: "resources",
			form: Service{Resources: &Resources{
				LimitCPUs: new("0.5"), LimitMemory: new("256M"), ReserveCPUs: new(".25"), ReserveMemory: new("128m"),
			}},
			want: spec(func(s *swarm.ServiceSpec) {
				s.TaskTemplate.Resources = &swarm.ResourceRequirements{
					Limits:       &swarm.Limit{NanoCPUs: 500_000_000, MemoryBytes: 256 << 20},
					Reservations: &swarm.Resources{NanoCPUs: 250_000_000, MemoryBytes: 128 << 20},
				}
			}),
		},
		{
			// --limit-memory 1g (only limits given: no reservations object)
			name: "limit only",
			form: Service{Resources: &Resources{LimitMemory: new("1g")}},
			want: spec(func(s *swarm.ServiceSpec) {
				s.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 1 << 30}}
			}),
		},
		{
			// --update-parallelism 2 --update-delay 10s --update-failure-action rollback
			// --update-order start-first --update-monitor 1m --update-max-failure-ratio 0.25
			name: "update config",
			form: Service{UpdateConfig: &UpdateConfig{
				Parallelism: new(uint64(2)), Delay: new("10s"), FailureAction: new("rollback"),
				Order: new("start-first"), Monitor: new("1m"), MaxFailureRatio: new(float32(0.25)),
			}},
			want: spec(func(s *swarm.ServiceSpec) {
				s.UpdateConfig = &swarm.UpdateConfig{
					Parallelism: 2, Delay: 10 * time.Second, FailureAction: "rollback",
					Order: "start-first", Monitor: time.Minute, MaxFailureRatio: 0.25,
				}
			}),
		},
		{
			// --update-delay 20s: the rest keeps swarm's defaults, parallelism 1
			name: "update config partial",
			form: Service{UpdateConfig: &UpdateConfig{Delay: new("20s")}},
			want: spec(func(s *swarm.ServiceSpec) {
				s.UpdateConfig = &swarm.UpdateConfig{Parallelism: 1, Delay: 20 * time.Second}
			}),
		},
		{
			// --rollback-parallelism 0 --rollback-failure-action continue --rollback-order stop-first
			name: "rollback config",
			form: Service{RollbackConfig: &UpdateConfig{
				Parallelism: new(uint64(0)), FailureAction: new("continue"), Order: new("stop-first"), Delay: new("0s"),
			}},
			want: spec(func(s *swarm.ServiceSpec) {
				s.RollbackConfig = &swarm.UpdateConfig{Parallelism: 0, FailureAction: "continue", Order: "stop-first"}
			}),
		},
		{
			// --restart-condition on-failure --restart-delay 5s --restart-max-attempts 3 --restart-window 2m
			name: "restart policy",
			form: Service{RestartPolicy: &RestartPolicy{
				Condition: new("on-failure"), Delay: new("5s"), MaxAttempts: new(uint64(3)), Window: new("2m"),
			}},
			want: spec(func(s *swarm.ServiceSpec) {
				s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{
					Condition: "on-failure", Delay: new(5 * time.Second), MaxAttempts: new(uint64(3)), Window: new(2 * time.Minute),
				}
			}),
		},
		{
			// --health-cmd "curl -f http://localhost/" --health-interval 10s --health-timeout 3s
			// --health-retries 3 --health-start-period 30s
			name: "healthcheck",
			form: Service{Healthcheck: &Healthcheck{
				Test:     &[]string{"CMD-SHELL", "curl -f http://localhost/"},
				Interval: new("10s"), Timeout: new("3s"), Retries: new(3), StartPeriod: new("30s"),
			}},
			want: withContainer(func(cs *swarm.ContainerSpec) {
				cs.Healthcheck = &container.HealthConfig{
					Test:     []string{"CMD-SHELL", "curl -f http://localhost/"},
					Interval: 10 * time.Second, Timeout: 3 * time.Second, Retries: 3, StartPeriod: 30 * time.Second,
				}
			}),
		},
		{
			// --no-healthcheck
			name: "healthcheck disabled",
			form: Service{Healthcheck: &Healthcheck{Test: &[]string{"NONE"}}},
			want: withContainer(func(cs *swarm.ContainerSpec) {
				cs.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
			}),
		},
		{
			// --hostname '{{.Node.Hostname}}' --user 1000:1000 --workdir /app
			// --stop-grace-period 1m30s --read-only
			name: "container settings",
			form: Service{
				Hostname: new("{{.Node.Hostname}}"), User: new("1000:1000"), Workdir: new("/app"),
				StopGracePeriod: new("1m30s"), ReadOnly: new(true),
			},
			want: withContainer(func(cs *swarm.ContainerSpec) {
				cs.Hostname = "{{.Node.Hostname}}"
				cs.User = "1000:1000"
				cs.Dir = "/app"
				cs.StopGracePeriod = new(90 * time.Second)
				cs.ReadOnly = true
			}),
		},
		{
			// --network backend --network name=front,alias=web,alias=www,driver-opt=com.docker.network.driver.mtu=1400
			name: "networks",
			form: Service{Networks: &[]string{
				"backend", "name=front,alias=web,alias=www,driver-opt=com.docker.network.driver.mtu=1400",
			}},
			want: spec(func(s *swarm.ServiceSpec) {
				s.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{
					{Target: "net-backend"},
					{
						Target: "net-front", Aliases: []string{"web", "www"},
						DriverOpts: map[string]string{"com.docker.network.driver.mtu": "1400"},
					},
				}
			}),
		},
		{
			// --secret db_pw --secret source=api_key,target=/etc/api.key,uid=101,gid=102,mode=0400
			name: "secrets",
			form: Service{Secrets: &[]string{"db_pw", "source=api_key,target=/etc/api.key,uid=101,gid=102,mode=0400"}},
			want: withContainer(func(cs *swarm.ContainerSpec) {
				cs.Secrets = []*swarm.SecretReference{
					{File: fileTarget("db_pw", "0", "0", 0o444), SecretID: "sec-db", SecretName: "db_pw"},
					{File: fileTarget("/etc/api.key", "101", "102", 0o400), SecretID: "sec-api", SecretName: "api_key"},
				}
			}),
		},
		{
			// --config source=app_cfg,target=/etc/app.conf --config nginx_conf
			name: "configs",
			form: Service{Configs: &[]string{"source=app_cfg,target=/etc/app.conf", "nginx_conf"}},
			want: withContainer(func(cs *swarm.ContainerSpec) {
				cs.Configs = []*swarm.ConfigReference{
					{File: (*swarm.ConfigReferenceFileTarget)(fileTarget("/etc/app.conf", "0", "0", 0o444)), ConfigID: "cfg-app", ConfigName: "app_cfg"},
					{File: (*swarm.ConfigReferenceFileTarget)(fileTarget("nginx_conf", "0", "0", 0o444)), ConfigID: "cfg-nginx", ConfigName: "nginx_conf"},
				}
			}),
		},
		{
			name: "resolve_image is not part of the spec",
			form: Service{ResolveImage: new(true)},
			want: spec(nil),
		},
		{
			name: "empty lists clear",
			form: Service{
				Env: &[]string{}, Ports: &[]string{}, Mounts: &[]string{}, Networks: &[]string{},
				Secrets: &[]string{}, Labels: &map[string]string{}, Command: &[]string{},
			},
			want: withContainer(func(*swarm.ContainerSpec) {}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diffSpec(t, applyNew(t, tt.form), tt.want)
		})
	}
}

// TestApply_Invalid applies one bad field onto a running service: each must
// fail on its field, say what is accepted, and leave the spec as it was.
func TestApply_Invalid(t *testing.T) {
	tests := []struct {
		name  string
		form  Service
		field string
		says  []string // parts of the message
	}{
		{"rename to a bad name", Service{Name: new("shop.web")}, "name", []string{"swarm can't rename"}},
		{"rename", Service{Name: new("shop_api")}, "name", []string{`it is "shop_web"`}},
		{"empty image", Service{Image: new("")}, "image", []string{`expected an image reference like "nginx:1.27"`}},
		{"uppercase image", Service{Image: new("Nginx:1.27")}, "image", []string{"must be lowercase"}},
		{"image with two tags", Service{Image: new("nginx:1:2")}, "image", []string{"invalid reference format"}},
		{"change mode", Service{Mode: new("global")}, "mode", []string{"can't change a service's mode", "replicated"}},
		{"env without key", Service{Env: &[]string{"A=1", "=x"}}, "env[1]", []string{`expected "KEY=value"`}},
		{"env without value", Service{Env: &[]string{"PATH"}}, "env[0]", []string{`got "PATH"`}},
		{"env key with space", Service{Env: &[]string{"MY VAR=1"}}, "env[0]", nil},
		{"label without key", Service{Labels: &map[string]string{"": "x"}}, "labels", []string{"non-empty key"}},
		{"container label blank key", Service{ContainerLabels: &map[string]string{" ": "x"}}, "container_labels", nil},
		{"port garbage", Service{Ports: &[]string{"8080:80", "http"}}, "ports[1]", []string{`expected "[published:]target[/protocol]"`, "mode=host,target=80"}},
		{"port out of range", Service{Ports: &[]string{"70000:80"}}, "ports[0]", []string{`published port "70000" is not a number from 0 to 65535`}},
		{"port with host ip", Service{Ports: &[]string{"127.0.0.1:80:80"}}, "ports[0]", []string{"host address can't be given"}},
		{"port bad mode", Service{Ports: &[]string{"mode=bridge,target=80"}}, "ports[0]", []string{"invalid publish mode"}},
		{"port without target", Service{Ports: &[]string{"mode=host,published=80"}}, "ports[0]", []string{"target"}},
		{"port bad protocol", Service{Ports: &[]string{"8080:80/icmp"}}, "ports[0]", nil},
		{"port zero target", Service{Ports: &[]string{"0"}}, "ports[0]", []string{"target port"}},
		{"port empty", Service{Ports: &[]string{""}}, "ports[0]", []string{"empty"}},
		{"port two lines", Service{Ports: &[]string{"target=80\ntarget=81"}}, "ports[0]", []string{"single line"}},
		{"port published twice", Service{Ports: &[]string{"8080:80", "8080:81"}}, "ports[1]", []string{"also given by ports[0]"}},
		{"port range too wide", Service{Ports: &[]string{"1-40000"}}, "ports[0]", []string{"at most 1024 ports"}},
		{"too many ports", Service{Ports: &[]string{"1-1000", "1-1000/udp", "1-1000/sctp", "2001-3000", "3001-3100"}}, "ports[4]", []string{"more than 4096"}},
		{"mount without target", Service{Mounts: &[]string{"type=volume,src=data"}}, "mounts[0]", []string{"target is required", "--mount syntax"}},
		{"mount relative source", Service{Mounts: &[]string{"type=bind,src=./data,dst=/data"}}, "mounts[0]", []string{"relative"}},
		{"bind without path", Service{Mounts: &[]string{"type=bind,src=data,dst=/data"}}, "mounts[0]", []string{"absolute path"}},
		{"volume with a path", Service{Mounts: &[]string{"type=volume,src=/data,dst=/data"}}, "mounts[0]", []string{"volume name"}},
		{"tmpfs with source", Service{Mounts: &[]string{"type=tmpfs,src=x,dst=/t"}}, "mounts[0]", []string{"no source"}},
		{"image mount", Service{Mounts: &[]string{"type=image,src=busybox,dst=/b"}}, "mounts[0]", []string{"mount type"}},
		{"relative target", Service{Mounts: &[]string{"type=volume,dst=data"}}, "mounts[0]", []string{"absolute path"}},
		{"mixed options", Service{Mounts: &[]string{"type=volume,dst=/d,bind-propagation=rslave"}}, "mounts[0]", []string{"cannot mix"}},
		{"deprecated option", Service{Mounts: &[]string{"type=bind,src=/a,dst=/a,bind-nonrecursive"}}, "mounts[0]", []string{"bind-recursive=disabled"}},
		{"unsupported recursion", Service{Mounts: &[]string{"type=bind,src=/a,dst=/a,readonly,bind-recursive=readonly"}}, "mounts[0]", nil},
		{"two mounts one target", Service{Mounts: &[]string{"dst=/d", "type=tmpfs,dst=/d"}}, "mounts[1]", []string{"also mounted by mounts[0]"}},
		{"network empty", Service{Networks: &[]string{" "}}, "networks[0]", []string{"empty"}},
		{"network without name", Service{Networks: &[]string{"alias=web"}}, "networks[0]", []string{"name is required"}},
		{"network ip", Service{Networks: &[]string{"name=backend,ip=10.0.0.2"}}, "networks[0]", []string{"ip can't be set"}},
		{"network unknown key", Service{Networks: &[]string{"name=backend,mtu=1400"}}, "networks[0]", []string{"unknown field"}},
		{"network twice", Service{Networks: &[]string{"backend", "name=backend,alias=x"}}, "networks[1]", []string{"also given by networks[0]"}},
		{"network by name and id", Service{Networks: &[]string{"backend", "net-backend"}}, "networks[1]", []string{"networks[0] again"}},
		{"network not found", Service{Networks: &[]string{"backend", "nope"}}, "networks[1]", []string{`network "nope" not found`}},
		{"constraint single =", Service{Constraints: &[]string{"node.role=worker"}}, "constraints[0]", []string{"no == or != operator", `"<key>==<value>"`}},
		{"constraint bad role", Service{Constraints: &[]string{"node.role==boss"}}, "constraints[0]", []string{"manager or worker"}},
		{"constraint unknown key", Service{Constraints: &[]string{"node.name==a"}}, "constraints[0]", []string{"unknown key"}},
		{"constraint empty label", Service{Constraints: &[]string{"node.labels.==a"}}, "constraints[0]", []string{"unknown key"}},
		{"constraint bad value", Service{Constraints: &[]string{"node.hostname==a>b"}}, "constraints[0]", []string{"malformed"}},
		{"constraint bad ip", Service{Constraints: &[]string{"node.ip==300.1.1.1"}}, "constraints[0]", []string{"address or a CIDR"}},
		{"pref without strategy", Service{PlacementPrefs: &[]string{"node.labels.zone"}}, "placement_prefs[0]", []string{`"spread=node.labels.<label>"`}},
		{"pref other strategy", Service{PlacementPrefs: &[]string{"pack=node.labels.zone"}}, "placement_prefs[0]", []string{"only spread"}},
		{"pref over node id", Service{PlacementPrefs: &[]string{"spread=node.id"}}, "placement_prefs[0]", []string{"can't spread"}},
		{"secret without source", Service{Secrets: &[]string{"target=/x"}}, "secrets[0]", []string{"source is required", `"db_pw"`}},
		{"secret bad mode", Service{Secrets: &[]string{"source=db_pw,mode=rw"}}, "secrets[0]", []string{"invalid mode"}},
		{"secret unknown field", Service{Secrets: &[]string{"source=db_pw,owner=me"}}, "secrets[0]", nil},
		{"secret target twice", Service{Secrets: &[]string{"db_pw", "source=api_key,target=db_pw"}}, "secrets[1]", []string{"also used by secrets[0]"}},
		{"secret not found", Service{Secrets: &[]string{"db_pw", "source=missing,target=/x"}}, "secrets[1]", []string{`secret "missing" not found`}},
		{"config without source", Service{Configs: &[]string{"target=/x"}}, "configs[0]", []string{"source is required", `"app_cfg"`}},
		{"config not found", Service{Configs: &[]string{"nope"}}, "configs[0]", []string{`config "nope" not found`}},
		{"cpus negative", Service{Resources: &Resources{LimitCPUs: new("-1")}}, "resources.limit_cpus", []string{`"0.5"`}},
		{"cpus rational", Service{Resources: &Resources{LimitCPUs: new("1/2")}}, "resources.limit_cpus", nil},
		{"cpus too precise", Service{Resources: &Resources{ReserveCPUs: new("0.0000000001")}}, "resources.reserve_cpus", []string{"9 decimals"}},
		{"cpus too few", Service{Resources: &Resources{LimitCPUs: new("0.0001")}}, "resources.limit_cpus", []string{"at least 0.001"}},
		{"cpus too many", Service{Resources: &Resources{LimitCPUs: new("99999999999")}}, "resources.limit_cpus", nil},
		{"memory negative", Service{Resources: &Resources{LimitMemory: new("-1")}}, "resources.limit_memory", []string{`"256M"`}},
		{"memory unit", Service{Resources: &Resources{LimitMemory: new("12Q")}}, "resources.limit_memory", nil},
		{"memory too small", Service{Resources: &Resources{LimitMemory: new("1k")}}, "resources.limit_memory", []string{"at least 4M"}},
		{"memory overflow", Service{Resources: &Resources{LimitMemory: new("99999999999999999999T")}}, "resources.limit_memory", nil},
		{"reservation above limit", Service{Resources: &Resources{ReserveMemory: new("1g")}}, "resources.reserve_memory", []string{"exceeds the limit (512M)"}},
		{"update delay unitless", Service{UpdateConfig: &UpdateConfig{Delay: new("10")}}, "update_config.delay", []string{`"10s"`}},
		{"update delay negative", Service{UpdateConfig: &UpdateConfig{Delay: new("-1s")}}, "update_config.delay", []string{"negative"}},
		{"update monitor", Service{UpdateConfig: &UpdateConfig{Monitor: new("soon")}}, "update_config.monitor", nil},
		{"update action", Service{UpdateConfig: &UpdateConfig{FailureAction: new("explode")}}, "update_config.failure_action", []string{`"pause", "continue" or "rollback"`}},
		{"update order", Service{UpdateConfig: &UpdateConfig{Order: new("random")}}, "update_config.order", []string{`"stop-first" or "start-first"`}},
		{"update ratio", Service{UpdateConfig: &UpdateConfig{MaxFailureRatio: new(float32(1.5))}}, "update_config.max_failure_ratio", []string{"0 to 1"}},
		{"rollback rollback", Service{RollbackConfig: &UpdateConfig{FailureAction: new("rollback")}}, "rollback_config.failure_action", []string{`"pause" or "continue"`}},
		{"rollback delay", Service{RollbackConfig: &UpdateConfig{Delay: new("1 s")}}, "rollback_config.delay", nil},
		{"restart condition", Service{RestartPolicy: &RestartPolicy{Condition: new("always")}}, "restart_policy.condition", []string{`"none", "on-failure" or "any"`}},
		{"restart delay", Service{RestartPolicy: &RestartPolicy{Delay: new("5")}}, "restart_policy.delay", nil},
		{"restart window", Service{RestartPolicy: &RestartPolicy{Window: new("-5s")}}, "restart_policy.window", []string{"negative"}},
		{"health test word", Service{Healthcheck: &Healthcheck{Test: &[]string{"curl"}}}, "healthcheck.test", []string{`["CMD-SHELL", "command"]`}},
		{"health test bare CMD", Service{Healthcheck: &Healthcheck{Test: &[]string{"CMD"}}}, "healthcheck.test", nil},
		{"health NONE with args", Service{Healthcheck: &Healthcheck{Test: &[]string{"NONE", "x"}}}, "healthcheck.test", nil},
		{"health shell empty", Service{Healthcheck: &Healthcheck{Test: &[]string{"CMD-SHELL", ""}}}, "healthcheck.test", nil},
		{"health interval tiny", Service{Healthcheck: &Healthcheck{Interval: new("1us")}}, "healthcheck.interval", []string{"at least 1ms"}},
		{"health timeout", Service{Healthcheck: &Healthcheck{Timeout: new("x")}}, "healthcheck.timeout", nil},
		{"health start period", Service{Healthcheck: &Healthcheck{StartPeriod: new("-1s")}}, "healthcheck.start_period", nil},
		{"health retries", Service{Healthcheck: &Healthcheck{Retries: new(-1)}}, "healthcheck.retries", nil},
		{"workdir relative", Service{Workdir: new("app")}, "workdir", []string{"absolute path"}},
		{"stop grace period", Service{StopGracePeriod: new("soon")}, "stop_grace_period", []string{`"1m30s"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := richSpec()
			err := tt.form.Apply(&s, testRefs)
			wantInvalid(t, err, tt.field, tt.says...)
			diffSpec(t, s, richSpec())
		})
	}
}

// TestApply_InvalidNew covers what only a new service can get wrong.
func TestApply_InvalidNew(t *testing.T) {
	tests := []struct {
		name  string
		form  Service
		field string
		says  []string
	}{
		{"name with a dot", Service{Name: new("web.1")}, "name", []string{"letters, digits"}},
		{"name leading dash", Service{Name: new("-web")}, "name", nil},
		{"name too long", Service{Name: new("a234567890123456789012345678901234567890123456789012345678901234")}, "name", nil},
		{"unknown mode", Service{Mode: new("daemon")}, "mode", []string{`expected "replicated" or "global"`}},
		{"job mode", Service{Mode: new("replicated-job")}, "mode", nil},
		{"replicas on global", Service{Mode: new("global"), Replicas: new(uint64(2))}, "replicas", []string{"replicated services"}},
		{"dnsrr and ingress", Service{Ports: &[]string{"8080:80"}}, "ports[0]", []string{"dnsrr", "mode=host,target=80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s swarm.ServiceSpec
			if tt.name == "dnsrr and ingress" {
				s.EndpointSpec = &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR}
			}
			before := s
			wantInvalid(t, tt.form.Apply(&s, testRefs), tt.field, tt.says...)
			diffSpec(t, s, before)
		})
	}
}

func TestApply_ManyProblems(t *testing.T) {
	f := Service{
		Env:          &[]string{"=x"},
		Ports:        &[]string{"nope"},
		UpdateConfig: &UpdateConfig{Delay: new("x")},
		Secrets:      &[]string{"missing"}, // not looked up: the rest is already invalid
	}
	s := richSpec()
	err := f.Apply(&s, fakeRefs{err: errors.New("must not be called")})
	wantInvalid(t, err, "env[0]")
	e, _ := errs.Public(err)
	fields, _ := e.Details["fields"].(map[string]string)
	var got []string
	for k := range fields {
		got = append(got, k)
	}
	want := []string{"env[0]", "ports[0]", "update_config.delay"}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestApply_LookupFails(t *testing.T) {
	down := errors.New("engine unreachable")
	s := richSpec()
	err := (&Service{Secrets: &[]string{"db_pw"}}).Apply(&s, fakeRefs{err: down})
	if !errors.Is(err, down) {
		t.Fatalf("error = %v, want it to wrap %v", err, down)
	}
	if errors.Is(err, errs.ErrInvalid) {
		t.Errorf("error %v is ErrInvalid; a failed lookup is not the user's fault", err)
	}
	diffSpec(t, s, richSpec())
}

func TestApply_LookupAmbiguous(t *testing.T) {
	s := richSpec()
	refs := fakeRefs{err: errs.Invalid("id", "prefix %q matches 2 networks", "ab")}
	err := (&Service{Networks: &[]string{"ab"}}).Apply(&s, refs)
	wantInvalid(t, err, "networks[0]", `network "ab": prefix "ab" matches 2 networks`)
}

func TestApply_NoRefs(t *testing.T) {
	var s swarm.ServiceSpec
	err := (&Service{Networks: &[]string{"backend"}}).Apply(&s, nil)
	if err == nil || errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("error = %v, want an internal error", err)
	}
	if err := (&Service{Env: &[]string{"A=1"}}).Apply(&s, nil); err != nil {
		t.Errorf("Apply without references and Refs: %v", err)
	}
}

// TestApply_Partial is PATCH: only the given fields change, and everything
// else, including what the form can't express, survives.
func TestApply_Partial(t *testing.T) {
	tests := []struct {
		name string
		form Service
		edit func(s *swarm.ServiceSpec)
	}{
		{
			name: "env only",
			form: Service{Env: &[]string{"X=1"}},
			edit: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Env = []string{"X=1"} },
		},
		{
			name: "same name and mode",
			form: Service{Name: new("shop_web"), Mode: new("replicated"), Replicas: new(uint64(5))},
			edit: func(s *swarm.ServiceSpec) { s.Mode.Replicated.Replicas = new(uint64(5)) },
		},
		{
			name: "image",
			form: Service{Image: new("nginx:1.28")},
			edit: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Image = "nginx:1.28" },
		},
		{
			name: "update delay keeps parallelism",
			form: Service{UpdateConfig: &UpdateConfig{Delay: new("20s")}},
			edit: func(s *swarm.ServiceSpec) { s.UpdateConfig.Delay = 20 * time.Second },
		},
		{
			name: "healthcheck retries keep the test",
			form: Service{Healthcheck: &Healthcheck{Retries: new(5)}},
			edit: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Healthcheck.Retries = 5 },
		},
		{
			name: "memory limit keeps cpus and pids",
			form: Service{Resources: &Resources{LimitMemory: new("1g")}},
			edit: func(s *swarm.ServiceSpec) { s.TaskTemplate.Resources.Limits.MemoryBytes = 1 << 30 },
		},
		{
			name: "restart condition keeps delays",
			form: Service{RestartPolicy: &RestartPolicy{Condition: new("any")}},
			edit: func(s *swarm.ServiceSpec) { s.TaskTemplate.RestartPolicy.Condition = "any" },
		},
		{
			name: "restart delay removed",
			form: Service{RestartPolicy: &RestartPolicy{Delay: new("")}},
			edit: func(s *swarm.ServiceSpec) { s.TaskTemplate.RestartPolicy.Delay = nil },
		},
		{
			name: "labels keep the stack's",
			form: Service{Labels: &map[string]string{"team": "shop"}},
			edit: func(s *swarm.ServiceSpec) {
				s.Labels = map[string]string{
					"com.docker.stack.namespace": "shop", "com.docker.stack.image": "nginx:1.27", "team": "shop",
				}
			},
		},
		{
			name: "container labels emptied keep the stack's",
			form: Service{ContainerLabels: &map[string]string{}},
			edit: func(s *swarm.ServiceSpec) {
				s.TaskTemplate.ContainerSpec.Labels = map[string]string{"com.docker.stack.namespace": "shop"}
			},
		},
		{
			name: "a stack label set explicitly",
			form: Service{Labels: &map[string]string{"com.docker.stack.namespace": "other"}},
			edit: func(s *swarm.ServiceSpec) {
				s.Labels = map[string]string{"com.docker.stack.namespace": "other", "com.docker.stack.image": "nginx:1.27"}
			},
		},
		{
			name: "configs keep the credential spec",
			form: Service{Configs: &[]string{"app_cfg"}},
			edit: func(s *swarm.ServiceSpec) {
				cs := s.TaskTemplate.ContainerSpec
				cs.Configs = []*swarm.ConfigReference{
					{File: (*swarm.ConfigReferenceFileTarget)(fileTarget("app_cfg", "0", "0", 0o444)), ConfigID: "cfg-app", ConfigName: "app_cfg"},
					cs.Configs[len(cs.Configs)-1],
				}
			},
		},
		{
			name: "ports keep the endpoint mode",
			form: Service{Ports: &[]string{"80"}},
			edit: func(s *swarm.ServiceSpec) {
				s.EndpointSpec.Ports = []swarm.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishMode: "ingress"}}
			},
		},
		{
			name: "constraints keep preferences",
			form: Service{Constraints: &[]string{}},
			edit: func(s *swarm.ServiceSpec) { s.TaskTemplate.Placement.Constraints = nil },
		},
		{
			name: "networks replace the deprecated list",
			form: Service{Networks: &[]string{"front"}},
			edit: func(s *swarm.ServiceSpec) {
				s.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "net-front"}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := richSpec()
			if err := tt.form.Apply(&s, testRefs); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			want := richSpec()
			tt.edit(&want)
			diffSpec(t, s, want)
		})
	}
}

// TestApply_DoesNotAlias checks that a successful Apply doesn't write
// through the pointers of the spec it was given: callers keep the old spec
// to diff or roll back.
func TestApply_DoesNotAlias(t *testing.T) {
	old := richSpec()
	s := old
	f := Service{
		Replicas: new(uint64(9)), Image: new("nginx:2"), Resources: &Resources{LimitCPUs: new("4")},
		UpdateConfig: &UpdateConfig{Parallelism: new(uint64(7))}, RollbackConfig: &UpdateConfig{Delay: new("1s")},
		RestartPolicy: &RestartPolicy{Condition: new("none")}, Healthcheck: &Healthcheck{Retries: new(9)},
		Constraints: &[]string{}, Ports: &[]string{"1"}, ReadOnly: new(false),
	}
	if err := f.Apply(&s, testRefs); err != nil {
		t.Fatal(err)
	}
	diffSpec(t, old, richSpec())
}

func TestApply_JobMode(t *testing.T) {
	job := swarm.ServiceSpec{Mode: swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}}}
	s := job
	if err := (&Service{Mode: new("replicated-job"), Env: &[]string{"A=1"}}).Apply(&s, testRefs); err != nil {
		t.Fatalf("Apply of the job's own mode: %v", err)
	}
	wantInvalid(t, (&Service{Replicas: new(uint64(1))}).Apply(&s, testRefs), "replicas", "replicated-job")
}

func TestValidateCreate_Image(t *testing.T) {
	for _, f := range []Service{{}, {Image: new("")}} {
		wantInvalid(t, f.ValidateCreate(), "image", "image is required")
	}
	if err := (&Service{Image: new("nginx")}).ValidateCreate(); err != nil {
		t.Errorf("ValidateCreate: %v", err)
	}
}

func TestSpec_New(t *testing.T) {
	f := Service{Name: new("web"), Image: new("nginx:1.27"), Secrets: &[]string{"db_pw"}}
	got, err := f.Spec(testRefs)
	if err != nil {
		t.Fatal(err)
	}
	want := spec(func(s *swarm.ServiceSpec) {
		s.Name = "web"
		s.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{
			Image:   "nginx:1.27",
			Secrets: []*swarm.SecretReference{{File: fileTarget("db_pw", "0", "0", 0o444), SecretID: "sec-db", SecretName: "db_pw"}},
		}
	})
	diffSpec(t, got, want)

	_, err = (&Service{Name: new("web")}).Spec(testRefs)
	wantInvalid(t, err, "image", "image is required")
}
