# snapshot-host: one self-contained binary (the bundled plugins are built for
# wasm32-wasip2 by host/build and embedded), on a small Debian runtime.
#
#   docker build -t snapshot-host .
#   docker run -e JWT_SECRET=... -p 3000:3000 snapshot-host
#
# See docker-compose.yml for a cluster: Redis, an IPFS node, three hosts.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# rust-toolchain.toml pins the compiler and asks for the wasm32-wasip2
# target; rustup installs both on first use.
COPY . .
RUN rustup show active-toolchain \
    && rustup target add wasm32-wasip2 \
    && cargo build --release --locked -p snapshot-host \
    && cp target/release/snapshot-host /usr/local/bin/snapshot-host

FROM debian:bookworm-slim
# CA roots for HTTPS upstreams (public mirror nodes, rippled/Clio servers).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/snapshot-host snapshot
COPY --from=build /usr/local/bin/snapshot-host /usr/local/bin/snapshot-host
USER snapshot
WORKDIR /var/lib/snapshot-host
ENV SNAPSHOT_LISTEN=0.0.0.0:3000 \
    SNAPSHOT_DATA_DIR=/var/lib/snapshot-host/data
EXPOSE 3000
ENTRYPOINT ["snapshot-host"]
CMD ["serve"]
