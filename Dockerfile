# syntax=docker/dockerfile:1
# Trainyard container image:
#   docker build --build-arg VERSION=v1.2.3 -t trainyard:1.2.3 .
# It runs `trainyard serve` with /etc/trainyard/trainyard.yaml; settings
# and secrets come from TRAINYARD_* environment variables (see
# deploy/compose.yaml and docs/install.md).

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so that a source change reuses their layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w \
        -X github.com/trainyard/trainyard/internal/buildinfo.version=${VERSION} \
        -X github.com/trainyard/trainyard/internal/buildinfo.commit=${COMMIT} \
        -X github.com/trainyard/trainyard/internal/buildinfo.date=${DATE}" \
      -o /out/trainyard ./cmd/trainyard

FROM debian:bookworm-slim
# git runs every merge and push; ca-certificates lets it and the forge
# clients verify the forges' TLS certificates.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid, so that Kubernetes' runAsNonRoot can check it and
# volumes can be prepared for it.
RUN groupadd --system --gid 10001 trainyard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/trainyard --no-create-home --shell /usr/sbin/nologin trainyard \
 && mkdir -p /var/lib/trainyard /etc/trainyard \
 && chown 10001:10001 /var/lib/trainyard
COPY --from=build /out/trainyard /usr/bin/trainyard
COPY packaging/trainyard.yaml /etc/trainyard/trainyard.yaml
# The packaged config listens on loopback, which nothing outside the
# container could reach.
ENV TRAINYARD_LISTEN=0.0.0.0:8080
USER 10001:10001
WORKDIR /var/lib/trainyard
# The git mirrors (data_dir): a cache that survives restarts when mounted.
VOLUME ["/var/lib/trainyard"]
EXPOSE 8080
# No HEALTHCHECK: the image has no HTTP client, and trainyard has no
# health subcommand. Orchestrators probe GET /healthz (alive) and
# GET /readyz (Redis reachable) on port 8080.
ENTRYPOINT ["trainyard"]
CMD ["serve", "--config", "/etc/trainyard/trainyard.yaml"]
