# zio-gateway container image. The build steps are those of .ci/run, so CI
# proves them: the same Debian packages, the same `cargo build`.
FROM rust:1-bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libxml2-utils postgresql bc chromium chromium-driver prometheus python3-venv nginx openssl >/dev/null
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/zio-gateway zio \
 && mkdir -p /var/lib/zio-gateway/data && chown zio /var/lib/zio-gateway/data
WORKDIR /var/lib/zio-gateway
COPY --from=build /src/target/release/zio-gateway /usr/local/bin/zio-gateway
COPY --from=build /src/config ./config
COPY --from=build /src/schemas ./schemas
USER zio
EXPOSE 8080
ENTRYPOINT ["zio-gateway"]
# The example configuration listens on loopback; in a container listen on all
# interfaces. Mount your own config/ and data/ over the examples.
CMD ["serve", "--listen", "0.0.0.0:8080"]
