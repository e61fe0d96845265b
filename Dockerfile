# ordersink worker image: builds bin/worker on Debian 12 (bookworm) and ships it on a slim
# bookworm runtime with only the shared libraries it links, as a non-root numeric user.
#
# librdkafka: this image ships Debian bookworm's librdkafka1 2.0.2. SCRAM (SASL/SCRAM-SHA-256/512)
# login fails against Apache Kafka >= 4.0 brokers with librdkafka < 2.6.1 (kcat #462, erlkaf #81;
# see shared/RIG.md). With this image use Kafka 3.x brokers for SCRAM (Amazon MSK offers 3.x
# versions); Event Hubs (SASL PLAIN) and TLS/mTLS are not affected. For Kafka >= 4.0 + SCRAM, build
# against librdkafka >= 2.6.1 instead of the Debian package.
#
#   docker build -t ordersink-worker:dev .
#   docker run --rm --read-only -e ORDERSINK_KAFKA_TOPIC=orders ... ordersink-worker:dev

ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
# The -dev packages CI installs (Makefile APT_PACKAGES), minus the test-only ones.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config \
      librdkafka-dev libcurl4-openssl-dev libcjson-dev libconfig-dev libssl-dev libmicrohttpd-dev libjsmn-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY lib/ lib/
COPY worker/ worker/
COPY producer/ producer/
# VERSION is passed in because .git is not part of the build context (.dockerignore).
ARG VERSION=dev
RUN make VERSION="${VERSION}" bin/worker \
 && strip bin/worker

FROM ${DEBIAN_IMAGE} AS runtime
# Runtime libraries only: librdkafka1 (2.0.2, see above), libcurl4, libcjson1, libconfig9, libssl3,
# libmicrohttpd12, and the CA store used to verify Cosmos DB, Event Hubs and MSK certificates.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libcurl4 libcjson1 libconfig9 libssl3 libmicrohttpd12 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ordersink \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin ordersink
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
