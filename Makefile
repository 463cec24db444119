# SwarmOps. `make run` builds and serves; `make test` installs what the tests
# need (as root on Debian), starts private engines and servers, and runs
# every test.
GO       ?= go
PKG      := github.com/swarmops/swarmops
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)
TESTFLAGS ?=
IMAGE    ?= swarmops/swarmops:$(VERSION)
# IMAGE_BIN: a static binary built elsewhere (the deploy tests pass theirs);
# when it is not bin/swarmops, `image` does not run `build`.
IMAGE_BIN ?= bin/swarmops
DOCKER   ?= docker

.PHONY: all build run image test test-deps test-short vet bench clean screenshots

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/swarmops ./cmd/swarmops

run: build
	./bin/swarmops serve

# image builds deploy/Dockerfile FROM scratch: the static binary, the host's
# CA certificates and deploy/image/{passwd,group} (the non-root user) are
# staged in a temp context; no base image, nothing is pulled.
image: $(if $(filter bin/swarmops,$(IMAGE_BIN)),build)
	@set -e; ctx=$$(mktemp -d); trap 'rm -rf "$$ctx"' EXIT; \
	mkdir "$$ctx/data"; \
	cp $(IMAGE_BIN) "$$ctx/swarmops"; \
	cp deploy/Dockerfile deploy/image/passwd deploy/image/group "$$ctx/"; \
	cp /etc/ssl/certs/ca-certificates.crt "$$ctx/"; \
	echo "$(DOCKER) build -t $(IMAGE) ($(IMAGE_BIN), version $(VERSION), commit $(COMMIT))"; \
	$(DOCKER) build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) "$$ctx"

test-deps:
	./internal/testenv/install-deps.sh

# Engines, Redis, nginx and Chromium are started by the tests themselves
# (internal/testenv) and stopped when each test binary ends; the sweep
# afterwards removes what a crashed or killed test binary left behind. The
# race detector is on (it needs cgo: test-deps installs gcc); the binaries
# the tests run as separate processes are built without it, as shipped.
test: test-deps
	$(GO) vet ./...
	$(GO) run ./internal/testenv/cmd/testenv-sweep
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 80m $(TESTFLAGS) ./... ; status=$$?; \
	$(GO) run ./internal/testenv/cmd/testenv-sweep; exit $$status

# screenshots runs the web UI's browser tests, which save a PNG of each page
# they check into docs/screenshots/ (the README shows them).
screenshots: test-deps
	mkdir -p docs/screenshots
	SWARMOPS_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -timeout 30m ./internal/webui/

test-short:
	$(GO) test -short ./...

# bench prints the performance table (bench/, README "Performance"): it
# starts private engines, Redis, a built swarmops process and wrk as the
# tests do, loads a swarm with 1,000 services and 10,000 pending tasks, and
# measures each row side by side with its reference in the same run
# (SWARMOPS_BENCH_PROFILE=file.prof also writes a CPU profile of the
# services list). Then the micro-benchmarks of every package.
bench: test-deps
	SWARMOPS_BENCH=full $(GO) test -count=1 -run TestPerformanceTable -v -timeout 90m ./bench/
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
