# ordersink — build, test, demo. `make test` and `make demo` install what is missing first.
CC      ?= cc
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
PKGS     = libcurl libcjson libconfig libcrypto libmicrohttpd

# librdkafka: by default the release pinned in scripts/librdkafka.sh, built from source into
# .cache and linked statically (Debian 12's 2.0.2 cannot log in with SCRAM to Kafka >= 4.0).
# `make LIBRDKAFKA=system` links the system's shared librdkafka found by pkg-config instead
# (packagers; needs >= 2.6.1 for SCRAM against Kafka 4, see README). Its header is included as a
# system header: newer rdkafka.h trips -Wextra -Werror.
LIBRDKAFKA ?= pinned
ifeq ($(LIBRDKAFKA),system)
RDK_STAMP  =
RDK_LIB    =
RDK_CFLAGS = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags rdkafka 2>/dev/null))
RDK_LIBS   = $(shell pkg-config --libs rdkafka 2>/dev/null)
else ifeq ($(LIBRDKAFKA),pinned)
RDK_PREFIX := $(CURDIR)/.cache/librdkafka-$(shell sed -n 's/^LIBRDKAFKA_VERSION=//p' scripts/librdkafka.sh)
RDK_STAMP  = $(RDK_PREFIX)/.stamp
RDK_LIB    = $(RDK_PREFIX)/lib/librdkafka.a
RDK_CFLAGS = -isystem $(RDK_PREFIX)/include
# Evaluated when a recipe runs (after the stamp's rule built the library): librdkafka.a, then
# the shared system libraries it needs (OpenSSL, zlib, zstd, lz4).
RDK_LIBS   = $(shell PKG_CONFIG_PATH=$(RDK_PREFIX)/lib/pkgconfig pkg-config --static --libs rdkafka-static)
else
$(error LIBRDKAFKA must be pinned or system, not $(LIBRDKAFKA))
endif

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu17 -Wall -Wextra -Werror -Ilib -DORDERSINK_VERSION='"$(VERSION)"' \
           $(RDK_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   = $(RDK_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC  = $(wildcard lib/*.c)
LIB_OBJ  = $(LIB_SRC:lib/%.c=build/obj/%.o)
ASAN_OBJ = $(LIB_SRC:lib/%.c=build/asan/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=build/unit/%)
UNIT_ASAN= $(UNIT_SRC:tests/unit/%.c=build/unit-asan/%)
VENV     = .cache/venv
PYTEST   = $(VENV)/bin/pytest

# Debian packages the build and the tests need (CI and developer machines alike).
APT_PACKAGES = build-essential pkg-config libcurl4-openssl-dev libcjson-dev \
               libconfig-dev libssl-dev zlib1g-dev libzstd-dev liblz4-dev check libmicrohttpd-dev libjsmn-dev clang-format openssl \
               clang libclang-rt-14-dev valgrind wrk kcat \
               buildah podman runc debootstrap
# Runtimes installed from Debian only when their command is missing (a machine may already
# have them from elsewhere, e.g. NodeSource's nodejs, which conflicts with Debian's npm):
# command=packages
APT_TOOLS = java=default-jre-headless mvn=maven node=nodejs,npm npm=npm

.PHONY: all deps deps-system librdkafka rdkafka-flags FORCE unit property rig-test e2e test demo bench \
        format format-check clean deploy-test fuzz reliability monitoring-test e2e-kafka39 \
        e2e-consumer-protocol compat keda-check demo-scale image-test image-build test-build
all: bin/worker bin/producer

# Objects are rebuilt when the librdkafka they were compiled against changes (mode file: which
# one, and its version through the prefix); binaries are relinked when librdkafka.a changes.
build/obj/%.o: lib/%.c $(wildcard lib/*.h) build/librdkafka.mode | build/obj $(RDK_STAMP)
	$(CC) $(CFLAGS) -c $< -o $@
build/asan/%.o: lib/%.c $(wildcard lib/*.h) build/librdkafka.mode | build/asan $(RDK_STAMP)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@
build build/obj build/asan build/unit build/unit-asan bin:
	mkdir -p $@
# Which librdkafka the objects were compiled against: switching LIBRDKAFKA rebuilds them.
build/librdkafka.mode: FORCE | build
	@echo '$(LIBRDKAFKA) $(RDK_PREFIX)' | cmp -s - $@ || echo '$(LIBRDKAFKA) $(RDK_PREFIX)' >$@
FORCE:

SRCS = $(filter %.c %.o,$^)
bin/worker: worker/main.c worker/lag_cmd.c $(LIB_OBJ) $(RDK_LIB) | bin
	$(CC) $(CFLAGS) $(SRCS) -o $@ $(LDLIBS)
bin/producer: producer/main.c $(LIB_OBJ) $(RDK_LIB) | bin
	$(CC) $(CFLAGS) $(SRCS) -o $@ $(LDLIBS)
# The worker built with ASan+UBSan, for the e2e test that runs it against the real rig.
build/asan/worker: worker/main.c worker/lag_cmd.c $(ASAN_OBJ) $(RDK_LIB) | build/asan
	$(CC) $(CFLAGS) $(SAN) $(SRCS) -o $@ $(LDLIBS)

# lib/order behind a stdin/stdout harness (ASan+UBSan), for tests/property.
build/asan/order_cli: tests/property/order_cli.c $(ASAN_OBJ) $(RDK_LIB) | build/asan
	$(CC) $(CFLAGS) $(SAN) $(SRCS) -o $@ $(LDLIBS)

build/unit/%: tests/unit/%.c $(LIB_OBJ) $(RDK_LIB) | build/unit
	$(CC) $(CFLAGS) $(SRCS) -o $@ $(LDLIBS) $(shell pkg-config --libs check)
build/unit-asan/%: tests/unit/%.c $(ASAN_OBJ) $(RDK_LIB) | build/unit-asan
	$(CC) $(CFLAGS) $(SAN) $(SRCS) -o $@ $(LDLIBS) $(shell pkg-config --libs check)

# The pinned librdkafka (fetched through npm, sha512-checked, built once; see the script).
# The script decides by the stamp's content whether to rebuild; make only re-asks it when the
# script changed.
librdkafka: $(RDK_STAMP)
ifneq ($(RDK_STAMP),)
$(RDK_STAMP): scripts/librdkafka.sh
	bash scripts/librdkafka.sh $(RDK_PREFIX)
	touch $@
$(RDK_LIB): $(RDK_STAMP)
endif
# Compiler and linker flags for librdkafka, for scripts that build outside make (tests/fuzz).
rdkafka-flags: $(RDK_STAMP)
	@echo 'RDK_CFLAGS="$(RDK_CFLAGS)"'
	@echo 'RDK_LIBS="$(RDK_LIBS)"'

# Installs only what is missing: Debian packages, then Kafka jars, node modules, the venv.
deps-system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; \
	  for t in $(APT_TOOLS); do command -v $${t%%=*} >/dev/null 2>&1 || echo $${t#*=} | tr , ' '; done; \
	  python3 -c 'import venv, ensurepip' 2>/dev/null || echo python3-venv); \
	missing=$$(printf '%s\n' $$missing | sort -u); \
	if [ -n "$$missing" ]; then echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
deps: deps-system
	$(MAKE) librdkafka
	bash tests/rig/deps.sh

unit: $(UNIT_BIN) $(UNIT_ASAN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_FORK=yes $$t; done
	@set -e; for t in $(UNIT_ASAN); do echo "== $$t (ASan+UBSan)"; \
	  ASAN_OPTIONS=detect_leaks=1 CK_FORK=no $$t; done
	node --test tests/rig/epk.test.js tests/rig/partitioning.test.js

# The rig's Cosmos front enforcing the partitioning contract (docs/rig-partitioning.md), over HTTP
# and with the official @azure/cosmos SDK's bulk API as the referee (about 20 s, no Kafka).
rig-test:
	node --test tests/rig/partition_front.test.js tests/rig/sdk-referee.test.js

# Property tests: lib/order against Python's json module as an independent parser.
property: build/asan/order_cli
	$(PYTEST) -q tests/property

# The Kafka security tests (SCRAM-SHA-512, PLAIN with an Event Hubs connection string, mTLS, wrong
# credentials) again on a Kafka 3.9.1 broker, and the consumer group protocol refused there with a
# clear message; `make e2e` runs everything on 4.4.0.
# The compatibility matrix (≈ 4 min, kept out of `make test` to hold it under 25 minutes; last
# results in docs/testing.md): Kafka 3.9.1, and the KIP-848 consumer protocol.
compat: e2e-kafka39 e2e-consumer-protocol

e2e-kafka39: all
	RIG_KAFKA_VERSION=3.9.1 $(PYTEST) -v -x tests/e2e/test_security.py tests/e2e/test_group_protocol.py

# The worker suite again with kafka.group_protocol=consumer (KIP-848) on Kafka 4.4.0.
e2e-consumer-protocol: all
	ORDERSINK_KAFKA_GROUP_PROTOCOL=consumer $(PYTEST) -v -x tests/e2e/test_worker.py

e2e: all build/asan/worker
	$(PYTEST) -v -x tests/e2e

# Everything CI runs: build, unit tests (plain and ASan+UBSan), end-to-end tests on the real
# rig, the deployment checks, a short fuzz run, the reliability scenarios at reduced size, and
# the image built and run. The image (≈ 3.5 min cold: debootstrap, apt, librdkafka) is built
# beside the build and unit tests and run beside the fuzzers and the deployment checks, none of
# which has timing to disturb, so that `make test` stays under 25 minutes on 2 cores.
test: deps
	$(MAKE) -j2 --output-sync=target image-build test-build
	$(MAKE) e2e
	$(MAKE) -j2 --output-sync=target FUZZ_SECONDS=20 image-test fuzz deploy-test monitoring-test
	$(MAKE) reliability RELIABILITY_ARGS=--quick

# The first part of make test, in order (beside image-build, which has no timing to disturb).
test-build:
	$(MAKE) format-check all unit property rig-test

# The worker image: built from the Dockerfile without any image registry (debootstrap base,
# buildah) and run with podman against the rig: non-root, read-only root, orders into Cosmos,
# exit 0 on SIGTERM; its size against the base. Storage and layer cache in .cache/image.
image-test: deps
	$(MAKE) all
	bash tests/image/run.sh

# The image only (base and build, cached in .cache/image), without running it.
image-build: deps
	bash tests/image/run.sh --build-only

# Kubernetes manifests, kustomize overlays and KEDA objects: schemas and drift checks.
deploy-test: all
	bash tests/deploy/run.sh

# Alert rules: promtool's unit tests (tests/monitoring/rules_test.yaml, every alert fires where it
# must and not in look-alikes). The rules against a real Prometheus: tests/e2e/test_monitoring.py.
PROMTOOL = .cache/promtool/usr/bin/promtool
monitoring-test:
	$(PROMTOOL) check rules k8s/components/monitoring/ordersink-rules.yaml
	$(PROMTOOL) test rules tests/monitoring/rules_test.yaml

# libFuzzer targets (order parser, config parser, Cosmos responses) for FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

# Fault-injection scenarios (kill -9, outages, 429 storms, slow sink, broker restart, rescale,
# SIGTERM, network cut); full size by default, RELIABILITY_ARGS=--quick for the CI size.
RELIABILITY_ARGS ?=
reliability: deps
	$(MAKE) all
	$(VENV)/bin/python tests/reliability/run.py $(RELIABILITY_ARGS)

# Benchmarks: one table, ratios against floors measured in the same run (see docs/benchmarks.md).
BENCH_ARGS ?=
bench: deps
	$(MAKE) all
	$(VENV)/bin/python tests/bench/run.py $(BENCH_ARGS)

demo: deps
	$(MAKE) all
	$(VENV)/bin/python tests/demo.py

# Python for keda-check and demo-scale: the rig's packages plus PyYAML and matplotlib, in its own
# venv (rebuilt when a requirements file changes) so the e2e venv stays small.
SCALE_VENV = .cache/venv-scale
$(SCALE_VENV)/.stamp: tests/scale/requirements.txt tests/requirements.txt
	python3 -m venv $(SCALE_VENV)
	$(SCALE_VENV)/bin/pip install -q --disable-pip-version-check -r tests/scale/requirements.txt
	touch $@

# KEDA's own Kafka scaler (the release pinned in tests/keda/go.mod) built with the machine's Go
# (>= 1.26, KEDA v2.21's go directive) through the module proxy; module and build caches stay in
# .cache/go. Cold: ~5 min on 2 cores and ~4.6 GB of cache; then under a second.
GO_ENV = GOMODCACHE=$(CURDIR)/.cache/go/mod GOCACHE=$(CURDIR)/.cache/go/build \
         GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
build/kedacheck: tests/keda/main.go tests/keda/go.mod tests/keda/go.sum | build
	@command -v go >/dev/null || { echo "keda-check needs Go >= 1.26 on the PATH"; exit 2; }
	cd tests/keda && $(GO_ENV) go build -o $(CURDIR)/build/kedacheck .

# KEDA's scaler vs `bin/worker lag` on the rig, case by case (docs/autoscaling.md). Not in
# `make test`: the cold Go build alone is ~5 min and ~4.6 GB.
keda-check: deps $(SCALE_VENV)/.stamp
	$(MAKE) all build/kedacheck
	$(SCALE_VENV)/bin/python tests/keda/check.py

# A burst scaled 0 -> N -> 0 by the shipped ScaledObject's numbers (times / 10), real workers,
# everything verified, picture in docs/autoscaling.png (docs/autoscaling.md).
DEMO_SCALE_ARGS ?=
demo-scale: deps $(SCALE_VENV)/.stamp
	$(MAKE) all
	$(SCALE_VENV)/bin/pytest -q tests/scale/test_autoscaler.py
	$(SCALE_VENV)/bin/python tests/scale/demo.py $(DEMO_SCALE_ARGS)

FORMAT_SRC = lib/*.c lib/*.h worker/*.c producer/*.c tests/unit/*.c tests/unit/*.h tests/fuzz/*.c tests/property/*.c
format:
	clang-format -i $(FORMAT_SRC)
# Fails when a source file differs from what clang-format (.clang-format) makes of it.
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

clean:
	rm -rf build bin
