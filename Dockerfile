# Multi-stage build of the `sightline` binary (server, worker and CLI in one).
# The wasm tracker and the dashboard are built on the host (scripts/build-tracker, web/) and
# copied in when present; the image then serves them at /sightline.js and /.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY server server
COPY entity entity
COPY migration migration
COPY tracker-wasm tracker-wasm
COPY fuzz fuzz
RUN cargo build --release --locked -p sightline --bin sightline

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app sightline
WORKDIR /app
COPY --from=build /src/target/release/sightline /usr/local/bin/sightline
COPY demo demo
COPY web/dist web/dist
COPY tracker-wasm/pkg tracker-wasm/pkg
USER sightline
ENV SIGHTLINE_BIND=0.0.0.0:8080 SIGHTLINE_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["sightline"]
CMD ["all"]
