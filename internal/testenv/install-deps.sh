#!/usr/bin/env bash
# Installs, as root on Debian, the packages SwarmOps's tests run for real:
# Docker engines, Redis, nginx, a registry and Chromium, the network tools
# the private engines need, openssl and curl, and the C compiler the race
# detector needs. Only what is missing is installed, so a prepared machine
# spends no time here. README's list of these packages is checked against
# this file (deploy/readme_test.go): change both.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have dockerd          || need+=(docker.io)
have redis-server     || need+=(redis-server)
have nginx            || need+=(nginx)
have chromium         || need+=(chromium)
have docker-registry  || need+=(docker-registry)
have ip               || need+=(iproute2)
have iptables         || need+=(iptables)
have nsenter          || need+=(util-linux)
have openssl          || need+=(openssl)
# README's first steps, run as written by cmd/swarmops' tests.
have curl             || need+=(curl)
have wrk              || need+=(wrk)   # bench/: the throughput row's load
# go test -race needs cgo: a C compiler and the C library's headers.
have gcc              || need+=(gcc libc6-dev)

if [ ${#need[@]} -eq 0 ]; then
  echo "test dependencies: all Debian packages present"
elif [ "$(id -u)" != 0 ]; then
  echo "test dependencies missing: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
  exit 1
else
  echo "installing test dependencies: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
  # The docker.io package may start a system daemon where systemd runs; the
  # tests never use it (they start private engines), so leave it as it is.
fi

# Redocly CLI, the OpenAPI linter internal/httpapi's tests run, at the
# version its package-lock.json pins (npm ci checks the integrity hash).
# It needs Node.js 20.19+ and npm, which this machine kind has.
lint="$(cd "$(dirname "$0")" && pwd)/testdata/redocly"
want=$(sed -n 's/.*"@redocly\/cli": "\(.*\)".*/\1/p' "$lint/package.json")
got=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$lint/node_modules/@redocly/cli/package.json" 2>/dev/null | head -1 || true)
if [ "$got" = "$want" ]; then
  echo "test dependencies: Redocly CLI $got present"
elif ! command -v npm >/dev/null 2>&1; then
  echo "test dependencies: npm is missing; install Node.js 20.19+ with npm (https://nodejs.org), then run make test-deps" >&2
  exit 1
else
  echo "installing Redocly CLI $want into $lint"
  npm ci --prefix "$lint" --no-audit --no-fund --loglevel=error
fi
