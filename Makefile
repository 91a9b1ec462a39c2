# Trainyard build, test and demo targets. `make test` is what CI runs.
GO      ?= go
BIN     ?= bin/trainyard
PKGS    ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS := -X github.com/trainyard/trainyard/internal/buildinfo.version=$(VERSION) \
	-X github.com/trainyard/trainyard/internal/buildinfo.commit=$(COMMIT) \
	-X github.com/trainyard/trainyard/internal/buildinfo.date=$(DATE)

.PHONY: all build test lint bench demo redis chromium promtool packaging-tools deb deb-version release-check release-snapshot clean

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
# The packaging tests in deploy/ run nfpm, Helm and GoReleaser's config
# loader from the tools/ module; packaging-tools compiles them first, both
# at once, so that their first build (minutes, from a cold cache) is not
# charged to the deploy tests' timeout.
test: redis chromium promtool packaging-tools
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -timeout 15m -run '^TestTarget' ./internal/sim/

redis:
	@scripts/ensure-redis.sh

chromium:
	@scripts/ensure-chromium.sh

promtool:
	@scripts/ensure-promtool.sh

packaging-tools:
	cd tools && $(GO) build github.com/goreleaser/nfpm/v2/cmd/nfpm helm.sh/helm/v4/cmd/helm github.com/goreleaser/goreleaser/v2

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

bench: redis
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

demo:
	$(GO) run ./cmd/trainyard demo

# Packaging runs nfpm and GoReleaser as Go tools of the tools/ module, so
# the service's go.mod stays free of them. scripts/deb-version.sh turns the
# build's version into a Debian one that sorts as the releases do.
TOOL        := $(GO) tool -modfile=tools/go.mod
DEB_VERSION ?= $(shell scripts/deb-version.sh '$(VERSION)')
DEB_ARCH    ?= $(shell $(GO) env GOARCH)

# The Debian version make deb gives this build.
deb-version:
	@echo '$(DEB_VERSION)'

deb:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(DEB_ARCH) $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/linux_$(DEB_ARCH)/trainyard ./cmd/trainyard
	mkdir -p bin/dist
	VERSION='$(DEB_VERSION)' GOARCH=$(DEB_ARCH) TRAINYARD_BIN=bin/linux_$(DEB_ARCH)/trainyard \
		$(TOOL) nfpm package --packager deb --config packaging/nfpm.yaml --target bin/dist/

# `goreleaser check` alone (make test runs it too).
release-check:
	$(TOOL) goreleaser check --config .goreleaser.yaml

# Every archive, the checksums and the Debian packages in bin/dist,
# without publishing anything.
release-snapshot:
	$(TOOL) goreleaser release --snapshot --clean

clean:
	rm -rf bin
