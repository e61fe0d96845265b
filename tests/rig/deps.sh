#!/usr/bin/env bash
# Fetches everything the test rig needs into <repo>/.cache and tests/rig/node_modules.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$ROOT/.cache"

# Kafka broker jars, one folder per version (RIG.md): 4.4.0 is the rig's default (what MSK and users
# run now), 3.9.1 stays for the compatibility run (make e2e-kafka39). tests/rig/rig.sh picks one.
for v in 4.4.0 3.9.1; do
  if ! ls "$CACHE/kafka-$v/libs/kafka_2.13-$v.jar" >/dev/null 2>&1; then
    echo "deps: fetching Kafka $v jars"
    mvn -q -B -f "$ROOT/tests/rig/pom.xml" dependency:copy-dependencies -Dkafka.version="$v" \
      -DincludeScope=runtime -DoutputDirectory="$CACHE/kafka-$v/libs"
  fi
done

# @vercel/cosmosdb-server and @azure/cosmos (the SDK referee), pinned by tests/rig/package-lock.json
if [ ! -d "$ROOT/tests/rig/node_modules/@vercel/cosmosdb-server" ] || [ ! -d "$ROOT/tests/rig/node_modules/@azure/cosmos" ]; then
  echo "deps: npm ci"
  npm ci --prefix "$ROOT/tests/rig" --no-audit --no-fund --loglevel=error
fi

# Python venv for the e2e tests
if [ ! -x "$CACHE/venv/bin/python" ] || ! cmp -s "$ROOT/tests/requirements.txt" "$CACHE/venv/requirements.txt"; then
  echo "deps: python venv"
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/tests/requirements.txt"
  cp "$ROOT/tests/requirements.txt" "$CACHE/venv/requirements.txt"
fi
# promtool and prometheus (Debian's prometheus package): promtool lints /metrics and unit-tests
# the alert rules, tests/e2e/test_monitoring.py runs prometheus itself. Only the files are
# unpacked, so no Prometheus service is installed or started.
if [ ! -x "$CACHE/promtool/usr/bin/promtool" ] || [ ! -x "$CACHE/promtool/usr/bin/prometheus" ]; then
  echo "deps: promtool"
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -q prometheus >/dev/null)
  dpkg-deb -x "$tmp"/prometheus_*.deb "$CACHE/promtool"
  rm -rf "$tmp"
fi
echo "deps: ok"
