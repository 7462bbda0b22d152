# Multi-stage build: compile in the Rust image, run in a small Debian image
# as an unprivileged user with the archive on a volume.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
RUN cargo build --release --locked && strip target/release/newsd

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/newsd --create-home newsd
COPY --from=build /src/target/release/newsd /usr/local/bin/newsd
COPY config/newsd.toml /etc/newsd/newsd.toml
USER newsd
WORKDIR /var/lib/newsd
VOLUME ["/var/lib/newsd"]
ENV NEWSD_CONFIG=/etc/newsd/newsd.toml \
    NEWSD__DATABASE__URL=sqlite:///var/lib/newsd/newsd.db
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["newsd"]
CMD ["run"]
