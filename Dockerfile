# ordersink worker image: builds bin/worker on Debian 12 (bookworm) and ships it on a slim
# bookworm runtime with only the shared libraries it links, as a non-root numeric user.
#
# librdkafka: linked statically, the release pinned in scripts/librdkafka.sh (2.15.1), fetched
# from the npm registry with its sha512 checked and built by the same script and the same Makefile
# rule CI uses, so the image runs what CI tested. Debian's librdkafka 2.0.2 is not used: SCRAM login
# fails against Apache Kafka >= 4.0 with librdkafka < 2.6.1 (see README, librdkafka).
#
#   docker build -t ordersink-worker:dev .
#   docker run --rm --read-only -e ORDERSINK_KAFKA_TOPIC=orders ... ordersink-worker:dev
#
# Built and run by `make image-test` (tests/image/run.sh) with buildah and podman, no registry.

ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
# The -dev packages CI installs (Makefile APT_PACKAGES), minus the test-only ones; curl and
# ca-certificates fetch librdkafka's source (scripts/librdkafka.sh; it uses npm where there is
# one, but Debian's npm is ~400 packages and a minute of install here).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config ca-certificates openssl curl \
      libcurl4-openssl-dev libcjson-dev libconfig-dev libssl-dev libmicrohttpd-dev libjsmn-dev \
      zlib1g-dev libzstd-dev liblz4-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# librdkafka first, in its own layer: rebuilt only when the script (version, hash) changes.
COPY scripts/librdkafka.sh scripts/
# Optional: a CA file (mounted into the build) for fetching through a TLS-intercepting proxy.
ARG CURL_CA_BUNDLE=
RUN bash scripts/librdkafka.sh
COPY Makefile ./
COPY lib/ lib/
COPY worker/ worker/
COPY producer/ producer/
# VERSION is passed in because .git is not part of the build context (.dockerignore).
# The stamp is touched so make does not re-ask the script (the COPY above gave it a new mtime).
ARG VERSION=dev
RUN touch .cache/librdkafka-*/.stamp \
 && make VERSION="${VERSION}" bin/worker \
 && ! ldd bin/worker | grep -q rdkafka \
 && strip bin/worker

FROM ${DEBIAN_IMAGE} AS runtime
# Runtime libraries only: libcurl4, libcjson1, libconfig9, libssl3, libmicrohttpd12, and the
# compression libraries librdkafka uses (zlib1g, libzstd1, liblz4-1). librdkafka itself is
# inside bin/worker.
# The CA store that verifies Cosmos DB, Event Hubs and MSK certificates when no CA file is set:
# Debian's bundle, copied from the build stage (its ca-certificates package would bring the
# openssl tool with it, 2.7 MB the worker never runs), where both clients look by default:
# libcurl at /etc/ssl/certs/ca-certificates.crt, librdkafka through OpenSSL's default paths
# (/usr/lib/ssl/cert.pem, /usr/lib/ssl/certs), linked to it as the openssl package does.
# libbrotli1 ships brotli's encoder beside the decoder libcurl links: the encoder (0.6 MB) is
# never loaded, so dpkg leaves it out, as the slim base leaves out docs (the image test's ldd
# check fails if a library the worker loads is missing).
RUN echo 'path-exclude=/usr/lib/*/libbrotlienc.so*' >/etc/dpkg/dpkg.cfg.d/ordersink-runtime \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcurl4 libcjson1 libconfig9 libssl3 libmicrohttpd12 zlib1g libzstd1 liblz4-1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/log/apt /var/log/*.log \
 && mkdir -p /etc/ssl/certs /usr/lib/ssl \
 && ln -s /etc/ssl/certs /usr/lib/ssl/certs \
 && ln -s /etc/ssl/certs/ca-certificates.crt /usr/lib/ssl/cert.pem \
 && groupadd --system --gid 10001 ordersink \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin ordersink
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /src/bin/worker /usr/local/bin/worker

# The worker writes nothing to disk: run it with a read-only root filesystem. Config is a mounted
# libconfig file; secrets are mounted files (cosmos.key_file, kafka.sasl_password_file, ...) or env.
ENV ORDERSINK_CONFIG=/etc/ordersink/ordersink.cfg
# metrics.port: /metrics, /healthz (liveness), /readyz (readiness)
EXPOSE 9464
# Numeric user so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# SIGTERM: flush, commit, leave the group, exit 0 within shutdown.timeout_ms (default 20 s).
STOPSIGNAL SIGTERM
# Both set explicitly: Azure Container Instances (AKS virtual nodes) rejects args without command.
ENTRYPOINT ["/usr/local/bin/worker"]
CMD ["--config", "/etc/ordersink/ordersink.cfg"]
