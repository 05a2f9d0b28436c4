# syntax=docker/dockerfile:1
# The sild gateway image: sild-gateway, sildctl and sild-audit on Debian 12,
# built from Debian 12 packages only.
#
#   docker build -t sild/gateway:0.1.0 .
#   docker run --rm sild/gateway:0.1.0 --version
#
# The Helm chart (helm/sild) runs this image read-only as user 10001; see
# docs/deploy.md. tests/helm/check_dockerfile.py keeps the package lists below
# in step with gateway/scripts/install-deps.sh.

# ---------------------------------------------------------------------------
# Build stage: the build packages of gateway/scripts/install-deps.sh (without
# the tools only developers and tests use), then a release build of the three
# programs. Nothing else runs here: the test suite runs in CI (tests/run.sh).
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libprotoc-dev libabsl-dev libssl-dev libsqlite3-dev nlohmann-json3-dev \
      libgtest-dev libgmock-dev libpugixml-dev libpq-dev \
      libnats-dev librabbitmq-dev librdkafka-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
# GoogleTest is configured (the top-level CMakeLists.txt requires it) but only
# the three programs are built.
RUN cmake -S . -B /build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release \
      -DSILD_BUILD_BENCHMARKS=OFF \
 && cmake --build /build --target sild-gateway sildctl sild-audit \
 && install -d /out \
 && install -m 0755 -s /build/gateway/server/sild-gateway /build/gateway/sildctl/sildctl \
      /build/gateway/audit/sild-audit /out/

# ---------------------------------------------------------------------------
# Runtime stage: the shared libraries the programs link, nothing to build with.
FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libssl3 libsqlite3-0 libpq5 \
      libpugixml1v5 libnats3.4 librabbitmq4 librdkafka1 libjemalloc2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /out/ /usr/local/bin/
# Fail the build, not the first start, when a runtime library is missing.
RUN ! ldd /usr/local/bin/sild-gateway /usr/local/bin/sildctl /usr/local/bin/sild-audit \
      | grep -F "not found"

RUN groupadd --system --gid 10001 sild \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin sild \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/sild /etc/sild

LABEL org.opencontainers.image.title="sild gateway" \
      org.opencontainers.image.description="mTLS gRPC gateway for referrals about children between schools, social services, health care and the Unemployment Insurance Fund" \
      org.opencontainers.image.version="0.1.0"

USER 10001:10001
WORKDIR /var/lib/sild
EXPOSE 7443
ENTRYPOINT ["sild-gateway"]
CMD ["--config", "/etc/sild/config/gateway.json"]
