# SwarmOps. `make run` builds and serves; `make test` installs what the tests
# need (as root on Debian), starts private engines and servers, and runs
# every test.
GO       ?= go
PKG      := github.com/swarmops/swarmops
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)
TESTFLAGS ?=

.PHONY: all build run test test-deps test-short vet bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/swarmops ./cmd/swarmops

run: build
	./bin/swarmops serve

test-deps:
	./internal/testenv/install-deps.sh

# Engines, Redis, nginx and Chromium are started by the tests themselves
# (internal/testenv) and stopped when each test binary ends; the sweep
# afterwards removes what a crashed or killed test binary left behind.
test: test-deps
	$(GO) vet ./...
	$(GO) run ./internal/testenv/cmd/testenv-sweep
	$(GO) test -count=1 -timeout 80m $(TESTFLAGS) ./... ; status=$$?; \
	$(GO) run ./internal/testenv/cmd/testenv-sweep; exit $$status

test-short:
	$(GO) test -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
