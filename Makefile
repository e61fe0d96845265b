# ordersink — build, test, demo. `make test` and `make demo` install what is missing first.
CC      ?= cc
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
PKGS     = rdkafka libcurl libcjson libconfig libcrypto libmicrohttpd
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu17 -Wall -Wextra -Werror -Ilib -DORDERSINK_VERSION='"$(VERSION)"' \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
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
APT_PACKAGES = build-essential pkg-config librdkafka-dev libcurl4-openssl-dev libcjson-dev \
               libconfig-dev libssl-dev check libmicrohttpd-dev libjsmn-dev clang-format openssl \
               clang libclang-rt-14-dev valgrind wrk kcat
# Runtimes installed from Debian only when their command is missing (a machine may already
# have them from elsewhere, e.g. NodeSource's nodejs, which conflicts with Debian's npm):
# command=packages
APT_TOOLS = java=default-jre-headless mvn=maven node=nodejs,npm npm=npm

.PHONY: all deps deps-system unit property rig-test e2e test demo bench format format-check clean deploy-test fuzz \
        reliability monitoring-test
all: bin/worker bin/producer

build/obj/%.o: lib/%.c $(wildcard lib/*.h) | build/obj
	$(CC) $(CFLAGS) -c $< -o $@
build/asan/%.o: lib/%.c $(wildcard lib/*.h) | build/asan
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@
build/obj build/asan build/unit build/unit-asan bin:
	mkdir -p $@

bin/worker: worker/main.c $(LIB_OBJ) | bin
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
bin/producer: producer/main.c $(LIB_OBJ) | bin
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
# The worker built with ASan+UBSan, for the e2e test that runs it against the real rig.
build/asan/worker: worker/main.c $(ASAN_OBJ) | build/asan
	$(CC) $(CFLAGS) $(SAN) $^ -o $@ $(LDLIBS)

# lib/order behind a stdin/stdout harness (ASan+UBSan), for tests/property.
build/asan/order_cli: tests/property/order_cli.c $(ASAN_OBJ) | build/asan
	$(CC) $(CFLAGS) $(SAN) $^ -o $@ $(LDLIBS)

build/unit/%: tests/unit/%.c $(LIB_OBJ) | build/unit
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(shell pkg-config --libs check)
build/unit-asan/%: tests/unit/%.c $(ASAN_OBJ) | build/unit-asan
	$(CC) $(CFLAGS) $(SAN) $^ -o $@ $(LDLIBS) $(shell pkg-config --libs check)

# Installs only what is missing: Debian packages, then Kafka jars, node modules, the venv.
deps-system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; \
	  for t in $(APT_TOOLS); do command -v $${t%%=*} >/dev/null 2>&1 || echo $${t#*=} | tr , ' '; done; \
	  python3 -c 'import venv, ensurepip' 2>/dev/null || echo python3-venv); \
	missing=$$(printf '%s\n' $$missing | sort -u); \
	if [ -n "$$missing" ]; then echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
deps: deps-system
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

e2e: all build/asan/worker
	$(PYTEST) -v -x tests/e2e

# Everything CI runs: build, unit tests (plain and ASan+UBSan), end-to-end tests on the real
# rig, the deployment checks, a short fuzz run, and the reliability scenarios at reduced size.
test: deps
	$(MAKE) format-check all unit property rig-test
	$(MAKE) e2e
	$(MAKE) deploy-test monitoring-test
	$(MAKE) fuzz FUZZ_SECONDS=20
	$(MAKE) reliability RELIABILITY_ARGS=--quick

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

# Benchmarks: one table, ratios against floors measured in the same run (see README).
BENCH_ARGS ?=
bench: deps
	$(MAKE) all
	$(VENV)/bin/python tests/bench/run.py $(BENCH_ARGS)

demo: deps
	$(MAKE) all
	$(VENV)/bin/python tests/demo.py

FORMAT_SRC = lib/*.c lib/*.h worker/*.c producer/*.c tests/unit/*.c tests/fuzz/*.c tests/property/*.c
format:
	clang-format -i $(FORMAT_SRC)
# Fails when a source file differs from what clang-format (.clang-format) makes of it.
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

clean:
	rm -rf build bin
