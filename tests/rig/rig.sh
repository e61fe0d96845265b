#!/usr/bin/env bash
# Test rig: a single-node KRaft Kafka (4.4.0, or RIG_KAFKA_VERSION=3.9.1) and the local Cosmos (tests/rig/cosmos.js), all on 127.0.0.1
# with free ports picked at run time. Run tests/rig/deps.sh first.
#   rig.sh start RUN_DIR   -> RUN_DIR/rig.env (KEY=value lines), RUN_DIR/*.pid, logs in RUN_DIR
#   Kafka listeners: PLAINTEXT (inter-broker, KAFKA_BOOTSTRAP), SASL_SCRAM, SASL_PLAIN, MTLS, BADHOST
#   (see write_kafka_config; their bootstraps, users, passwords and TLS files are in rig.env)
#   rig.sh stop RUN_DIR    -> stops the processes recorded in RUN_DIR/*.pid (idempotent)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.cache/venv/bin/python"
# The broker version: 4.4.0 by default, RIG_KAFKA_VERSION=3.9.1 for the compatibility run.
KAFKA_VERSION="${RIG_KAFKA_VERSION:-4.4.0}"
KAFKA_LIBS="$ROOT/.cache/kafka-$KAFKA_VERSION/libs"
READY_TIMEOUT="${RIG_READY_TIMEOUT:-60}"
# 0 so tests join at once; the broker default is 3000 (RIG_GROUP_INITIAL_REBALANCE_DELAY_MS=3000
# measures a real broker's first join: docs/kubernetes.md, "Scale from zero").
GROUP_INITIAL_REBALANCE_DELAY_MS="${RIG_GROUP_INITIAL_REBALANCE_DELAY_MS:-0}"

die() { echo "rig: $*" >&2; exit 1; }

# free_ports N -> N distinct free TCP ports on 127.0.0.1
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# sign_cert DIR NAME CA SUBJ SAN EKU -> DIR/NAME.key (unencrypted PKCS#8) + DIR/NAME.pem, signed by DIR/CA.{pem,key}
sign_cert() {
  local d="$1" name="$2" ca="$3" subj="$4" san="$5" eku="$6"
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
  { [ -n "$san" ] && echo "subjectAltName=$san"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=$eku"
  } > "$d/$name.ext"
  openssl x509 -req -in "$d/$name.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" -CAcreateserial -days 30 \
    -extfile "$d/$name.ext" -out "$d/$name.pem" 2>/dev/null
  rm -f "$d/$name.csr" "$d/$name.ext"
}

make_ca() { # DIR NAME CN
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$3" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$1/$2.key" -out "$1/$2.pem" 2>/dev/null
}

# gen_tls DIR: everything the Cosmos front and the Kafka TLS listeners use (each file made only if missing):
#   ca.pem/.key            the test CA (trusted by the broker and by every client of the rig)
#   server.pem/.key        SAN IP:127.0.0.1, DNS:localhost (Cosmos front, Kafka SASL_SCRAM/SASL_PLAIN/MTLS)
#   badhost.pem/.key       SAN DNS:wrong.example.invalid only (Kafka BADHOST: host-name mismatch)
#   client.pem/.key        CN=ordersink-client, clientAuth, by the test CA (mTLS)
#   client-enc.key         client.key encrypted (PKCS#8, AES-256) with the password in client-enc.password
#   other-ca.pem/.key      an unrelated CA; other-client.pem/.key signed by it (rejected by MTLS)
#   kafka-server.pem, kafka-badhost.pem   Kafka PEM keystores: private key + cert + CA chain
gen_tls() {
  local d="$1"
  mkdir -p "$d"
  [ -s "$d/ca.pem" ] || make_ca "$d" ca "ordersink test CA"
  [ -s "$d/server.pem" ] || sign_cert "$d" server ca "/CN=localhost" "IP:127.0.0.1,DNS:localhost" "serverAuth,clientAuth"
  [ -s "$d/badhost.pem" ] || sign_cert "$d" badhost ca "/CN=wrong.example.invalid" "DNS:wrong.example.invalid" "serverAuth"
  [ -s "$d/client.pem" ] || sign_cert "$d" client ca "/CN=ordersink-client" "" "clientAuth"
  if [ ! -s "$d/client-enc.key" ]; then
    openssl rand -hex 12 > "$d/client-enc.password"
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$d/client.key" -out "$d/client-enc.key" \
      -passout "file:$d/client-enc.password" 2>/dev/null
  fi
  [ -s "$d/other-ca.pem" ] || make_ca "$d" other-ca "unrelated test CA"
  [ -s "$d/other-client.pem" ] || sign_cert "$d" other-client other-ca "/CN=ordersink-client" "" "clientAuth"
  cat "$d/server.key" "$d/server.pem" "$d/ca.pem" > "$d/kafka-server.pem"
  cat "$d/badhost.key" "$d/badhost.pem" "$d/ca.pem" > "$d/kafka-badhost.pem"
  chmod 600 "$d"/*.key "$d"/kafka-*.pem "$d/client-enc.password"
}

jaas_quote() { # value -> "value" for a JAAS option in a .properties file; the rig's generated secrets
  # never hold a backslash or a double quote (hex, base64), so refusing them keeps the quoting trivial
  case "$1" in *\\*|*\"*) die "jaas_quote: backslash or quote in a JAAS value" ;; esac
  printf '"%s"' "$1"
}

write_kafka_config() { # $1 run dir; uses the *_PORT variables, PLAIN_USER_PASSWORD, PLAIN_CONNECTION_STRING
  local run="$1" tls="$1/tls"
  # Listeners: name -> "PROTOCOL PORT". To add one, add an entry here (plus its listener.name.<name>.*
  # settings below) and export its bootstrap in rig.env. PLAINTEXT stays the inter-broker listener.
  #   SASL_SCRAM  SASL_SSL, SCRAM-SHA-512 only (users created at format time, see start)
  #   SASL_PLAIN  SASL_SSL, PLAIN only ($ConnectionString = fake Event Hubs connection string, plainuser)
  #   MTLS        SSL, client certificate required (signed by the test CA)
  #   BADHOST     SSL, broker certificate for DNS:wrong.example.invalid only (host-name mismatch)
  local -A LISTENERS=([PLAINTEXT]="PLAINTEXT $KAFKA_PORT" [SASL_SCRAM]="SASL_SSL $SCRAM_PORT"
    [SASL_PLAIN]="SASL_SSL $PLAIN_PORT" [MTLS]="SSL $MTLS_PORT" [BADHOST]="SSL $BADHOST_PORT")
  local listeners="CONTROLLER://127.0.0.1:$CONTROLLER_PORT" advertised="" protomap="CONTROLLER:PLAINTEXT"
  local name proto port
  for name in "${!LISTENERS[@]}"; do
    read -r proto port <<<"${LISTENERS[$name]}"
    listeners+=",$name://127.0.0.1:$port"
    advertised+="${advertised:+,}$name://127.0.0.1:$port"
    protomap+=",$name:$proto"
  done
  # JAAS option values are double-quoted strings (Kafka's JaasConfig uses a StreamTokenizer: backslash
  # escapes inside quotes, '$' is a word character so user_$ConnectionString is one option name).
  # Properties files treat backslash as an escape too, hence the doubling in jaas_quote.
  local plain_jaas
  plain_jaas="org.apache.kafka.common.security.plain.PlainLoginModule required"
  plain_jaas+=" user_\$ConnectionString=$(jaas_quote "$PLAIN_CONNECTION_STRING")"
  plain_jaas+=" user_plainuser=$(jaas_quote "$PLAIN_USER_PASSWORD");"
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
group.initial.rebalance.delay.ms=$GROUP_INITIAL_REBALANCE_DELAY_MS
num.network.threads=2
num.io.threads=2
log.flush.interval.messages=9223372036854775807
# TLS for every SSL/SASL_SSL listener: PEM key store (unencrypted PKCS#8 key + chain) and PEM trust store
ssl.keystore.type=PEM
ssl.keystore.location=$tls/kafka-server.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
ssl.client.auth=none
listener.name.sasl_scram.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_scram.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plain.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plain.plain.sasl.jaas.config=$plain_jaas
listener.name.mtls.ssl.client.auth=required
listener.name.badhost.ssl.keystore.type=PEM
listener.name.badhost.ssl.keystore.location=$tls/kafka-badhost.pem
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
  [ -x "$PY" ] && [ -e "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -d "$ROOT/tests/rig/node_modules/@vercel/cosmosdb-server" ] \
    || die "dependencies missing: run tests/rig/deps.sh"
  for f in "$RUN"/*.pid; do [ -e "$f" ] && alive "$(cat "$f")" && die "already running in $RUN ($f)"; done
  trap 'echo "rig: start failed, stopping" >&2; stop "$RUN"' EXIT
  local t0=$SECONDS
  rm -rf "$RUN/kafka-data" "$RUN/cosmos.ports.json" "$RUN/rig.env"
  gen_tls "$RUN/tls"
  read -r KAFKA_PORT CONTROLLER_PORT SCRAM_PORT PLAIN_PORT MTLS_PORT BADHOST_PORT < <(free_ports 6)
  local cosmos_key cluster_id scram_user=ordersink scram_password
  cosmos_key="$(openssl rand -base64 64 | tr -d '\n')"
  # Per-run Kafka secrets, distinctive so the tests can grep logs for leaks
  scram_password="scram-$(openssl rand -hex 16)"
  PLAIN_USER_PASSWORD="plain-$(openssl rand -hex 16)"
  PLAIN_CONNECTION_STRING="Endpoint=sb://ordersink-test.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=$(openssl rand -base64 32 | tr -d '\n')"
  cluster_id="$("$PY" "$ROOT/tests/rig/cluster_id.py")"

  # Cosmos first: it is ready long before Kafka is
  COSMOS_KEY="$cosmos_key" nohup node "$ROOT/tests/rig/cosmos.js" --cert "$RUN/tls/server.pem" --key "$RUN/tls/server.key" \
    --ca "$RUN/tls/ca.pem" --ports-file "$RUN/cosmos.ports.json" > "$RUN/cosmos.out" 2>&1 &
  echo $! > "$RUN/cosmos.pid"

  write_kafka_config "$RUN"
  local jvm=(java -Xmx512m -Xms512m -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$RUN/log4j.properties" -cp "$KAFKA_LIBS/*")
  # SCRAM users live in the KRaft metadata log: created at format time (StorageTool --add-scram, the same
  # on 3.9 and 4.x)
  "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$RUN/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$scram_user,password=$scram_password]" > "$RUN/kafka-format.out" 2>&1 \
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
KAFKA_SASL_SCRAM_BOOTSTRAP=127.0.0.1:$SCRAM_PORT
KAFKA_SASL_PLAIN_BOOTSTRAP=127.0.0.1:$PLAIN_PORT
KAFKA_MTLS_BOOTSTRAP=127.0.0.1:$MTLS_PORT
KAFKA_BADHOST_BOOTSTRAP=127.0.0.1:$BADHOST_PORT
KAFKA_SCRAM_MECHANISM=SCRAM-SHA-512
KAFKA_SCRAM_USER=$scram_user
KAFKA_SCRAM_PASSWORD=$scram_password
KAFKA_PLAIN_USER=plainuser
KAFKA_PLAIN_PASSWORD=$PLAIN_USER_PASSWORD
KAFKA_PLAIN_CONNECTION_STRING=$PLAIN_CONNECTION_STRING
KAFKA_CA_FILE=$RUN/tls/ca.pem
KAFKA_CLIENT_CERT=$RUN/tls/client.pem
KAFKA_CLIENT_KEY=$RUN/tls/client.key
KAFKA_CLIENT_KEY_ENCRYPTED=$RUN/tls/client-enc.key
KAFKA_CLIENT_KEY_PASSWORD=$(cat "$RUN/tls/client-enc.password")
KAFKA_OTHER_CA_FILE=$RUN/tls/other-ca.pem
KAFKA_OTHER_CLIENT_CERT=$RUN/tls/other-client.pem
KAFKA_OTHER_CLIENT_KEY=$RUN/tls/other-client.key
KAFKA_PID=$(cat "$RUN/kafka.pid")
KAFKA_VERSION=$KAFKA_VERSION
COSMOS_PID=$(cat "$RUN/cosmos.pid")
EOF
  mv "$RUN/rig.env.tmp" "$RUN/rig.env"
  trap - EXIT
  chmod 600 "$RUN/rig.env" "$RUN/server.properties"
  echo "rig: up in $((SECONDS - t0))s: kafka 127.0.0.1:$KAFKA_PORT (scram :$SCRAM_PORT, plain :$PLAIN_PORT, mtls :$MTLS_PORT, badhost :$BADHOST_PORT), cosmos https://127.0.0.1:$front (direct :$backend, admin http://127.0.0.1:$admin), env $RUN/rig.env"
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
