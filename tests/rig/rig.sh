#!/usr/bin/env bash
# Test rig: a single-node KRaft Kafka 3.9.1 and the local Cosmos (tests/rig/cosmos.js), all on 127.0.0.1
# with free ports picked at run time. Run tests/rig/deps.sh first.
#   rig.sh start RUN_DIR   -> RUN_DIR/rig.env (KEY=value lines), RUN_DIR/*.pid, logs in RUN_DIR
#   rig.sh stop RUN_DIR    -> stops the processes recorded in RUN_DIR/*.pid (idempotent)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.cache/venv/bin/python"
KAFKA_LIBS="$ROOT/.cache/kafka/libs"
READY_TIMEOUT="${RIG_READY_TIMEOUT:-60}"

die() { echo "rig: $*" >&2; exit 1; }

# free_ports N -> N distinct free TCP ports on 127.0.0.1
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

gen_tls() { # CA + server cert (SAN IP:127.0.0.1, DNS:localhost); kept for Kafka TLS listeners too
  local d="$1"
  [ -s "$d/server.pem" ] && return 0
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=ordersink test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" > "$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
  rm -f "$d/server.csr" "$d/server.ext"
}

write_kafka_config() { # $1 run dir; uses KAFKA_PORT CONTROLLER_PORT
  local run="$1"
  # Listeners: name -> "PROTOCOL PORT". To add e.g. an SSL or SASL_SSL listener, add an entry here
  # (plus its ssl.*/sasl.* settings below) and export its bootstrap in rig.env.
  local -A LISTENERS=([PLAINTEXT]="PLAINTEXT $KAFKA_PORT")
  local listeners="CONTROLLER://127.0.0.1:$CONTROLLER_PORT" advertised="" protomap="CONTROLLER:PLAINTEXT"
  local name proto port
  for name in "${!LISTENERS[@]}"; do
    read -r proto port <<<"${LISTENERS[$name]}"
    listeners+=",$name://127.0.0.1:$port"
    advertised+="${advertised:+,}$name://127.0.0.1:$port"
    protomap+=",$name:$proto"
  done
  cat > "$run/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protomap
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/kafka-data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.flush.interval.messages=9223372036854775807
EOF
  cat > "$run/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$run/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
EOF
}

alive() { # pid exists and is not a zombie
  [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"
}

start() {
  RUN="$(mkdir -p "$1" && cd "$1" && pwd)"
  [ -x "$PY" ] && [ -e "$KAFKA_LIBS/kafka_2.13-3.9.1.jar" ] && [ -d "$ROOT/tests/rig/node_modules/@vercel/cosmosdb-server" ] \
    || die "dependencies missing: run tests/rig/deps.sh"
  for f in "$RUN"/*.pid; do [ -e "$f" ] && alive "$(cat "$f")" && die "already running in $RUN ($f)"; done
  trap 'echo "rig: start failed, stopping" >&2; stop "$RUN"' EXIT
  local t0=$SECONDS
  rm -rf "$RUN/kafka-data" "$RUN/cosmos.ports.json" "$RUN/rig.env"
  gen_tls "$RUN/tls"
  read -r KAFKA_PORT CONTROLLER_PORT < <(free_ports 2)
  local cosmos_key cluster_id
  cosmos_key="$(openssl rand -base64 64 | tr -d '\n')"
  cluster_id="$("$PY" -c 'import base64,uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')"

  # Cosmos first: it is ready long before Kafka is
  COSMOS_KEY="$cosmos_key" nohup node "$ROOT/tests/rig/cosmos.js" --cert "$RUN/tls/server.pem" --key "$RUN/tls/server.key" \
    --ca "$RUN/tls/ca.pem" --ports-file "$RUN/cosmos.ports.json" > "$RUN/cosmos.out" 2>&1 &
  echo $! > "$RUN/cosmos.pid"

  write_kafka_config "$RUN"
  local jvm=(java -Xmx512m -Xms512m -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$RUN/log4j.properties" -cp "$KAFKA_LIBS/*")
  "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$RUN/server.properties" > "$RUN/kafka-format.out" 2>&1 \
    || { cat "$RUN/kafka-format.out" >&2; die "kafka storage format failed"; }
  nohup "${jvm[@]}" kafka.Kafka "$RUN/server.properties" > "$RUN/kafka.out" 2>&1 &
  echo $! > "$RUN/kafka.pid"

  # Readiness: the Cosmos ports file exists and the broker answers a metadata request
  local deadline=$((SECONDS + READY_TIMEOUT))
  until [ -s "$RUN/cosmos.ports.json" ]; do
    alive "$(cat "$RUN/cosmos.pid")" || { tail -20 "$RUN/cosmos.out" >&2; die "cosmos.js exited"; }
    [ $SECONDS -lt $deadline ] || die "cosmos not ready after ${READY_TIMEOUT}s (see $RUN/cosmos.out)"
    sleep 0.2
  done
  until "$PY" - "127.0.0.1:$KAFKA_PORT" <<'EOF' 2>/dev/null
import sys
from confluent_kafka.admin import AdminClient
md = AdminClient({"bootstrap.servers": sys.argv[1], "log_level": 0}).list_topics(timeout=2)
sys.exit(0 if md.brokers else 1)
EOF
  do
    alive "$(cat "$RUN/kafka.pid")" || { tail -20 "$RUN/kafka.out" "$RUN/kafka.log" >&2; die "kafka exited"; }
    [ $SECONDS -lt $deadline ] || die "kafka not ready after ${READY_TIMEOUT}s (see $RUN/kafka.out, $RUN/kafka.log)"
    sleep 0.5
  done

  local ports front backend admin
  ports="$(cat "$RUN/cosmos.ports.json")"
  read -r front backend admin < <(python3 -c 'import json,sys; p=json.loads(sys.argv[1]); print(p["front_port"], p["backend_port"], p["admin_port"])' "$ports")
  cat > "$RUN/rig.env.tmp" <<EOF
RUN_DIR=$RUN
KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
COSMOS_ENDPOINT=https://127.0.0.1:$front
COSMOS_DIRECT_ENDPOINT=https://127.0.0.1:$backend
COSMOS_ADMIN=http://127.0.0.1:$admin
COSMOS_KEY=$cosmos_key
COSMOS_CA_FILE=$RUN/tls/ca.pem
TLS_DIR=$RUN/tls
KAFKA_PID=$(cat "$RUN/kafka.pid")
COSMOS_PID=$(cat "$RUN/cosmos.pid")
EOF
  mv "$RUN/rig.env.tmp" "$RUN/rig.env"
  trap - EXIT
  echo "rig: up in $((SECONDS - t0))s: kafka 127.0.0.1:$KAFKA_PORT, cosmos https://127.0.0.1:$front (direct :$backend, admin http://127.0.0.1:$admin), env $RUN/rig.env"
}

stop() { # TERM what RUN_DIR/*.pid records (only if its command line mentions RUN_DIR), KILL after 10 s
  local run="$1" f pid pids=()
  [ -d "$run" ] || return 0
  run="$(cd "$run" && pwd)"
  for f in "$run"/*.pid; do
    [ -e "$f" ] || continue
    pid="$(cat "$f")"
    if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$run/"; then
      kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
    rm -f "$f"
  done
  local deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

case "${1:-}" in
  start) [ $# -eq 2 ] || die "usage: rig.sh start RUN_DIR"; start "$2" ;;
  stop)  [ $# -eq 2 ] || die "usage: rig.sh stop RUN_DIR"; stop "$2" ;;
  *) die "usage: rig.sh start|stop RUN_DIR" ;;
esac
