# Trainyard build, test and demo targets. `make test` is what CI runs.
GO      ?= go
BIN     ?= bin/trainyard
PKGS    ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/trainyard/trainyard/internal/buildinfo.version=$(VERSION)

.PHONY: all build test lint bench demo redis chromium promtool clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/trainyard

# Integration tests need redis-server: tests start their own on a free
# loopback port unless REDIS_URL points at one. scripts/ensure-redis.sh
# installs Debian's package when it is missing. The dashboard's browser
# tests drive a headless chromium, which scripts/ensure-chromium.sh
# installs the same way, and the alert rules' tests run Debian's promtool
# (scripts/ensure-promtool.sh).
# The simulator's target scenarios run on one goroutine, where the race
# detector finds nothing and costs minutes: they run once more without it.
test: redis chromium promtool
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -timeout 15m -run '^TestTarget' ./internal/sim/

redis:
	@scripts/ensure-redis.sh

chromium:
	@scripts/ensure-chromium.sh

promtool:
	@scripts/ensure-promtool.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

bench: redis
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

demo:
	$(GO) run ./cmd/trainyard demo

clean:
	rm -rf bin
