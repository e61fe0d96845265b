"""End-to-end: Kafka security. The rig's broker has, besides PLAINTEXT, the listeners
SASL_SCRAM (SASL_SSL, SCRAM-SHA-512), SASL_PLAIN (SASL_SSL, PLAIN, Event Hubs style $ConnectionString),
MTLS (SSL, client certificate required) and BADHOST (SSL, broker certificate for wrong.example.invalid),
all with certificates from the rig's test CA (tests/rig/rig.sh gen_tls).

1. The rig itself, with confluent_kafka only (independent of our C code).
2. bin/producer + bin/worker over each secure listener, end to end into Cosmos.
3. Authentication / TLS failures: an error line, exit 1 within seconds, nothing committed.
4. Secrets (SCRAM password, connection string, Cosmos key, key password) never in logs or errors.
5. ORDERSINK_KAFKA_INSECURE_SKIP_TLS_VERIFY=1 warns; librdkafka passthrough; Event Hubs EntityPath check.

The tests of the C side skip (naming what is missing) while `bin/worker --print-settings` does not list
the security settings yet."""
import functools
import json
import os
import re
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from rig import REPO, WORKER_BIN
from helpers import order, setup_pipeline, wait_committed

PRODUCER_BIN = os.path.join(REPO, "bin", "producer")
SECURE = ("scram", "plain", "mtls")  # rig.kafka_config / rig.kafka_security_env listener names
FAIL_WITHIN_S = 15


# ---------- helpers ----------

def clean_env():
    """os.environ without ORDERSINK_* / EVENTHUBS_* (a developer's shell must not leak into a test)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("ORDERSINK_", "EVENTHUBS_"))}


@functools.lru_cache(maxsize=None)
def print_settings(binary=WORKER_BIN):
    r = subprocess.run([binary, "--print-settings"], env=clean_env(), capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"{binary} --print-settings: exit {r.returncode}: {r.stderr}"
    return r.stdout


SECURITY_SETTINGS = ("ORDERSINK_KAFKA_SECURITY_PROTOCOL", "ORDERSINK_KAFKA_SASL_MECHANISM",
                     "ORDERSINK_KAFKA_SASL_USERNAME", "ORDERSINK_KAFKA_SASL_PASSWORD",
                     "ORDERSINK_KAFKA_SSL_CA_FILE", "ORDERSINK_KAFKA_SSL_CERT_FILE", "ORDERSINK_KAFKA_SSL_KEY_FILE")


def require_settings(*names):
    """Skips the test while the worker does not know these settings yet (C side still being written)."""
    missing = [n for n in names if n not in print_settings()]
    if missing:
        pytest.skip(f"bin/worker --print-settings lacks {', '.join(missing)} (C side not ready)")


@functools.lru_cache(maxsize=None)
def producer_ready():
    """bin/producer is the real one (not a stub) when its --help names --topic and --count."""
    if not os.access(PRODUCER_BIN, os.X_OK):
        return False
    try:
        r = subprocess.run([PRODUCER_BIN, "--help"], env=clean_env(), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    out = r.stdout + r.stderr
    return "--topic" in out and "--count" in out


def read_log(path):
    """(JSON objects, non-JSON lines) of a worker log (stdout+stderr)."""
    objs, other = [], []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                o = json.loads(line)
                (objs if isinstance(o, dict) else other).append(o if isinstance(o, dict) else line)
            except ValueError:
                other.append(line.rstrip("\n"))
    return objs, other


def assert_json_log(path):
    objs, other = read_log(path)
    assert not other, f"non-JSON lines in the worker log {path} (librdkafka logs must go through the logger):\n" + \
        "\n".join(other[:10])
    return objs


def assert_no_secrets(rig, text, where, also=()):
    for name, value in list(rig.secrets().items()) + [(f"extra[{i}]", v) for i, v in enumerate(also)]:
        assert value not in text, f"secret {name} appears in {where}"


def security_env(rig, listener, topic, group, db, coll, **extra):
    env = rig.worker_env(topic, group, db, coll)
    env.update(rig.kafka_security_env(listener))
    env.update(extra)
    return env


def produce_orders(rig, listener, topic, count):
    """count orders into topic over listener: with bin/producer when it is there (the C client over the
    secure listener), else with confluent_kafka over the same listener. Returns the way used."""
    if producer_ready():
        env = {**clean_env(), **rig.kafka_security_env(listener), "ORDERSINK_KAFKA_TOPIC": topic}
        r = subprocess.run([PRODUCER_BIN, "--topic", topic, "--count", str(count), "--rate", "5000"],
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"bin/producer over {listener}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        assert_no_secrets(rig, r.stdout + r.stderr, f"bin/producer output ({listener})")
        how = "bin/producer"
    else:
        rig.produce(topic, [(*order(i), None) for i in range(count)], listener=listener)
        how = "confluent_kafka (bin/producer not ready)"
    assert sum(rig.high_watermarks(topic).values()) == count, f"{how} over {listener} did not write {count} messages"
    return how


def run_to_exit(rig, env, timeout=FAIL_WITHIN_S + 10):
    """Starts the worker, waits for it to exit; returns (process, exit code, seconds, JSON lines)."""
    t0 = time.monotonic()
    w = rig.start_worker(env)
    try:
        rc = w.wait(timeout)
    except subprocess.TimeoutExpired:
        rig.stop_worker(w)
        with open(w.log_path, errors="replace") as f:
            tail = f.read()[-1500:]
        raise AssertionError(f"worker still running after {timeout}s; log {w.log_path}:\n{tail}")
    if w in rig.workers:
        rig.workers.remove(w)
    objs, _ = read_log(w.log_path)
    return w, rc, time.monotonic() - t0, objs


# ---------- 1. the rig itself (confluent_kafka only) ----------

def test_broker_is_the_version_asked_for(rig):
    """The suite runs on Kafka 4.4.0 (make e2e) and 3.9.1 (make e2e-kafka39): the broker that answers
    is the one the run claims, from its own jars."""
    want = os.environ.get("RIG_KAFKA_VERSION", "4.4.0")
    assert rig.env["KAFKA_VERSION"] == want
    cmdline = open(f"/proc/{rig.env['KAFKA_PID']}/cmdline", "rb").read().decode()
    assert f"kafka-{want}/libs" in cmdline, cmdline[:300]


@pytest.mark.parametrize("listener", ["scram", "plain", "plainuser", "mtls"])
def test_rig_listener_roundtrip(rig, listener):
    topic, group = f"sec-rig-{listener}-{uuid.uuid4().hex[:6]}", f"sec-rig-g-{uuid.uuid4().hex[:6]}"
    rig.create_topic(topic, 2)
    msgs = [(f"k{i}".encode(), f"{listener}-{i}".encode(), i % 2) for i in range(20)]
    assert rig.produce(topic, msgs, listener=listener) == 20
    c = Consumer({**rig.kafka_config(listener), "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    got = []
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 30
        while len(got) < 20 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert not m.error(), m.error()
            got.append(m.value())
        c.commit(asynchronous=False)
    finally:
        c.close()
    assert sorted(got) == sorted(v for _, v, _ in msgs)
    assert rig.committed(group, topic) == {0: 10, 1: 10}  # read back over PLAINTEXT: same broker, same group


def rejected(cfg, wait=8):
    """Errors (KafkaError) a client with cfg gets within wait seconds, [] if it connects fine."""
    errors = []
    p = Producer({**cfg, "error_cb": errors.append, "log_level": 0})
    try:
        p.list_topics(timeout=wait)
    except Exception:  # noqa: BLE001 - KafkaException(_TRANSPORT); the cause comes through error_cb
        deadline = time.monotonic() + wait
        while not errors and time.monotonic() < deadline:
            p.poll(0.2)
        return errors or ["list_topics failed, no error_cb"]
    p.poll(0)
    return errors


def test_rig_rejects_bad_credentials_and_certificates(rig):
    """The failure cases the worker tests rely on are real rejections by the broker or the TLS layer."""
    cases = {
        "scram wrong password": (rig.kafka_config("scram", **{"sasl.password": "nope"}), KafkaError._AUTHENTICATION),
        "scram unknown user": (rig.kafka_config("scram", **{"sasl.username": "nobody"}), KafkaError._AUTHENTICATION),
        "plain wrong password": (rig.kafka_config("plain", **{"sasl.password": "nope"}), KafkaError._AUTHENTICATION),
        "scram untrusted CA": (rig.kafka_config("scram", **{"ssl.ca.location": rig.env["KAFKA_OTHER_CA_FILE"]}),
                               KafkaError._SSL),
        "badhost host name": (rig.kafka_config("badhost"), KafkaError._SSL),
        # TLS 1.3: the server's rejection of the client certificate arrives after the client's handshake
        # is done, so librdkafka reports it as a transport error ("SSL alert number 42/46").
        "mtls other client cert": (rig.kafka_config("mtls", **{"ssl.certificate.location": rig.env["KAFKA_OTHER_CLIENT_CERT"],
                                                               "ssl.key.location": rig.env["KAFKA_OTHER_CLIENT_KEY"]}),
                                   KafkaError._TRANSPORT),
        "mtls no client cert": ({k: v for k, v in rig.kafka_config("mtls").items() if not k.startswith("ssl.certificate")
                                 and not k.startswith("ssl.key")}, KafkaError._TRANSPORT),
    }
    for name, (cfg, code) in cases.items():
        errs = rejected(cfg)
        assert errs, f"{name}: the rig accepted the connection"
        codes = {e.code() for e in errs if isinstance(e, KafkaError)}
        assert code in codes, f"{name}: expected {KafkaError(code).name()}, got {[str(e) for e in errs]}"
    # ... and BADHOST fails only because of the host name: without host-name verification it works
    assert rejected(rig.kafka_config("badhost", **{"ssl.endpoint.identification.algorithm": "none"})) == []
    # the encrypted copy of the client key works with its password
    assert rejected(rig.kafka_config("mtls", **{"ssl.key.location": rig.env["KAFKA_CLIENT_KEY_ENCRYPTED"],
                                                "ssl.key.password": rig.env["KAFKA_CLIENT_KEY_PASSWORD"]})) == []


# ---------- 2. worker + producer end to end over each secure listener ----------

@pytest.mark.parametrize("listener", SECURE)
def test_worker_and_producer_over_secure_listener(rig, listener):
    require_settings(*SECURITY_SETTINGS)
    if listener == "plain":
        require_settings("EVENTHUBS_CONNECTION_STRING")
    topic, group, db, coll = setup_pipeline(rig, f"sec-{listener}", 3)
    how = produce_orders(rig, listener, topic, 300)
    extra = {"ORDERSINK_LOG_STATS_INTERVAL_MS": "1000"}
    if listener == "plain":  # Microsoft's recommended client settings for Event Hubs (RIG.md), via passthrough
        extra.update(ORDERSINK_LIBRDKAFKA_SOCKET_KEEPALIVE_ENABLE="true",
                     ORDERSINK_LIBRDKAFKA_METADATA_MAX_AGE_MS="180000")
    env = security_env(rig, listener, topic, group, db, coll, **extra)
    assert env["ORDERSINK_KAFKA_BOOTSTRAP_SERVERS"] != rig.bootstrap  # only the secure listener is used
    w = rig.start_worker(env)
    committed = wait_committed(rig, group, topic, timeout=60, proc=w)
    assert rig.stop_worker(w) == 0
    assert committed == rig.high_watermarks(topic) and sum(committed.values()) == 300, how
    assert rig.count_docs(db, coll) == 300
    objs = assert_json_log(w.log_path)
    assert not [o for o in objs if o.get("level") == "error"], f"errors in {w.log_path}"
    with open(w.log_path, errors="replace") as f:
        assert_no_secrets(rig, f.read(), f"the worker log ({listener})")


# ---------- 3. failures: error line, exit 1 within seconds, nothing committed ----------

AUTH = re.compile(r"authenticat", re.I)
TLS = re.compile(r"ssl|tls|certificate|handshake", re.I)


def failure_cases(rig):
    wrong_pw = f"wrongpw-{uuid.uuid4().hex}"
    return {
        "scram_wrong_password": ("scram", {"ORDERSINK_KAFKA_SASL_PASSWORD": wrong_pw}, AUTH, [wrong_pw]),
        "scram_unknown_user": ("scram", {"ORDERSINK_KAFKA_SASL_USERNAME": f"nobody-{uuid.uuid4().hex[:6]}"}, AUTH, []),
        "plain_wrong_connection_string": ("plain", {"EVENTHUBS_CONNECTION_STRING":
                                                    rig.env["KAFKA_PLAIN_CONNECTION_STRING"].replace("SharedAccessKey=", "SharedAccessKey=x")},
                                          AUTH, []),
        "mtls_wrong_client_cert": ("mtls", {"ORDERSINK_KAFKA_SSL_CERT_FILE": rig.env["KAFKA_OTHER_CLIENT_CERT"],
                                            "ORDERSINK_KAFKA_SSL_KEY_FILE": rig.env["KAFKA_OTHER_CLIENT_KEY"]}, TLS, []),
        "scram_untrusted_ca": ("scram", {"ORDERSINK_KAFKA_SSL_CA_FILE": rig.env["KAFKA_OTHER_CA_FILE"]}, TLS, []),
        "badhost_name_mismatch": ("badhost", {}, TLS, []),
    }


FAILURES = ["scram_wrong_password", "scram_unknown_user", "plain_wrong_connection_string", "mtls_wrong_client_cert",
            "scram_untrusted_ca", "badhost_name_mismatch"]


@pytest.mark.parametrize("case", FAILURES)
def test_security_failure_exits_1_quickly_and_commits_nothing(rig, case):
    require_settings(*SECURITY_SETTINGS)
    if case.startswith("plain"):
        require_settings("EVENTHUBS_CONNECTION_STRING")
    listener, overrides, pattern, extra_secrets = failure_cases(rig)[case]
    topic, group, db, coll = setup_pipeline(rig, f"secfail-{case.split('_')[0]}", 2)
    rig.produce(topic, [(*order(i), None) for i in range(20)])  # over PLAINTEXT: there is work to do
    env = security_env(rig, listener, topic, group, db, coll, **overrides)
    w, rc, secs, objs = run_to_exit(rig, env)
    errors = [o for o in objs if o.get("level") == "error"]
    with open(w.log_path, errors="replace") as f:
        text = f.read()
    assert rc == 1, f"{case}: exit {rc} after {secs:.1f}s, want 1; log {w.log_path}:\n{text[-3000:]}"
    assert secs < FAIL_WITHIN_S, f"{case}: took {secs:.1f}s to fail"
    # the worker's own line saying why it stops (not only librdkafka's log lines, which it relays)
    own = [o for o in errors if o.get("component") != "librdkafka"]
    assert any(pattern.search(json.dumps(o)) for o in own), \
        f"{case}: no worker error line matching {pattern.pattern!r}; worker errors: {own}; librdkafka: {errors[:3]}"
    assert all(v is None for v in rig.committed(group, topic).values())
    assert rig.count_docs(db, coll) == 0
    assert_no_secrets(rig, text, f"the worker log ({case})", also=extra_secrets)
    assert_json_log(w.log_path)


# ---------- 4. secrets never leak ----------

def test_secrets_not_in_check_config_or_debug_log(rig):
    require_settings(*SECURITY_SETTINGS, "ORDERSINK_KAFKA_SSL_KEY_PASSWORD", "EVENTHUBS_CONNECTION_STRING")
    base = rig.worker_env("t", "g", "d", "c")
    envs = {
        "scram": {**base, **rig.kafka_security_env("scram")},
        "eventhubs": {**base, **rig.kafka_security_env("plain")},
        "eventhubs-ordersink-prefix": {**base, "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": rig.env["KAFKA_SASL_PLAIN_BOOTSTRAP"],
                                       "ORDERSINK_KAFKA_SSL_CA_FILE": rig.env["KAFKA_CA_FILE"],
                                       "ORDERSINK_EVENTHUBS_CONNECTION_STRING": rig.env["KAFKA_PLAIN_CONNECTION_STRING"]},
        "mtls-encrypted-key": {**base, **rig.kafka_security_env("mtls"),
                               "ORDERSINK_KAFKA_SSL_KEY_FILE": rig.env["KAFKA_CLIENT_KEY_ENCRYPTED"],
                               "ORDERSINK_KAFKA_SSL_KEY_PASSWORD": rig.env["KAFKA_CLIENT_KEY_PASSWORD"]},
    }
    for name, env in envs.items():
        r = subprocess.run([WORKER_BIN, "--check-config"], env={**clean_env(), **env},
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, f"{name}: --check-config exit {r.returncode}: {r.stderr}"
        assert_no_secrets(rig, r.stdout + r.stderr, f"--check-config output ({name})")
        assert "<redacted>" in r.stdout, name

    # password from a file (mounted secret), debug logging, a full run: still nothing in the log
    topic, group, db, coll = setup_pipeline(rig, "secleak", 2)
    rig.produce(topic, [(*order(i), None) for i in range(50)])
    pw_file = os.path.join(rig.run_dir, f"scram-password-{uuid.uuid4().hex[:6]}")
    with open(pw_file, "w") as f:
        f.write(rig.env["KAFKA_SCRAM_PASSWORD"] + "\n")
    env = security_env(rig, "scram", topic, group, db, coll, ORDERSINK_LOG_LEVEL="debug",
                       ORDERSINK_LOG_STATS_INTERVAL_MS="500", ORDERSINK_KAFKA_SASL_PASSWORD_FILE=pw_file)
    del env["ORDERSINK_KAFKA_SASL_PASSWORD"]
    w = rig.start_worker(env)
    wait_committed(rig, group, topic, timeout=60, proc=w)
    assert rig.stop_worker(w) == 0
    with open(w.log_path, errors="replace") as f:
        assert_no_secrets(rig, f.read(), "the worker's debug log")
    assert rig.count_docs(db, coll) == 50


def test_eventhubs_entity_path_must_match_topic(rig):
    require_settings("EVENTHUBS_CONNECTION_STRING")
    cs = rig.env["KAFKA_PLAIN_CONNECTION_STRING"]
    env = {**rig.worker_env("orders", "g", "d", "c"), **rig.kafka_security_env("plain")}
    env["EVENTHUBS_CONNECTION_STRING"] = cs + ";EntityPath=payments"
    r = subprocess.run([WORKER_BIN, "--check-config"], env={**clean_env(), **env}, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "eventhubs.connection_string" in r.stderr, (r.returncode, r.stderr)
    assert_no_secrets(rig, r.stdout + r.stderr, "the EntityPath error")
    env["EVENTHUBS_CONNECTION_STRING"] = cs + ";EntityPath=orders"
    r = subprocess.run([WORKER_BIN, "--check-config"], env={**clean_env(), **env}, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr


def test_eventhubs_entity_path_alone_names_the_topic_and_the_dlq(rig):
    """Issue 11 defect 1: with the topic only from EntityPath, dlq.topic stayed NULL and the worker
    crashed at start (exit 139, strdup(NULL) in lib/dlq.c). Now it starts with topic and DLQ
    derived. The rig's PLAIN listener knows one password (its connection string without an
    EntityPath), so the broker then refuses the login: exit 1 with the authentication error,
    the documented failure, instead of the crash."""
    topic, group, db, coll = setup_pipeline(rig, "ehpath", 1)
    env = security_env(rig, "plain", topic, group, db, coll)
    del env["ORDERSINK_KAFKA_TOPIC"]
    env["EVENTHUBS_CONNECTION_STRING"] = f"{rig.env['KAFKA_PLAIN_CONNECTION_STRING']};EntityPath={topic}"
    r = subprocess.run([WORKER_BIN, "--check-config"], env={**clean_env(), **env}, capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0 and f'dlq.topic = "{topic}.dlq"' in r.stdout, r.stderr
    w = rig.start_worker(env)
    assert w.wait(timeout=FAIL_WITHIN_S + 15) == 1
    objs, _ = read_log(w.log_path)
    started = [o for o in objs if o.get("msg") == "worker started"]
    assert started and started[0]["topic"] == topic
    assert any(AUTH.search(o.get("error", "")) for o in objs if o.get("level") == "error")


# ---------- 5. insecure mode warns; librdkafka passthrough ----------

def test_insecure_skip_tls_verify_warns_and_connects(rig):
    require_settings(*SECURITY_SETTINGS, "ORDERSINK_KAFKA_INSECURE_SKIP_TLS_VERIFY")
    topic, group, db, coll = setup_pipeline(rig, "secinsecure", 1)
    rig.produce(topic, [(*order(i), None) for i in range(10)])
    # BADHOST + a CA that did not sign the broker: works only with verification off
    env = security_env(rig, "badhost", topic, group, db, coll, ORDERSINK_KAFKA_INSECURE_SKIP_TLS_VERIFY="1",
                       ORDERSINK_KAFKA_SSL_CA_FILE=rig.env["KAFKA_OTHER_CA_FILE"])
    w = rig.start_worker(env)
    wait_committed(rig, group, topic, timeout=60, proc=w)
    assert rig.stop_worker(w) == 0
    objs = assert_json_log(w.log_path)
    warns = [o for o in objs if o.get("level") == "warn" and re.search(r"insecure|skip_tls_verify", json.dumps(o), re.I)]
    assert warns, f"no warn line about insecure_skip_tls_verify in {w.log_path}"
    first_kafka_activity = next((i for i, o in enumerate(objs) if o.get("msg") in ("partitions assigned", "progress")), None)
    assert first_kafka_activity is not None, "no partitions assigned or progress line: the worker never reached Kafka"
    assert objs.index(warns[0]) < first_kafka_activity, "the warning must come at start"
    assert rig.count_docs(db, coll) == 10


def test_insecure_skip_tls_verify_off_by_default(rig):
    require_settings("ORDERSINK_KAFKA_INSECURE_SKIP_TLS_VERIFY")
    rows = [l.split("|") for l in print_settings().splitlines() if "`ORDERSINK_KAFKA_INSECURE_SKIP_TLS_VERIFY`" in l]
    assert rows, "no --print-settings row for ORDERSINK_KAFKA_INSECURE_SKIP_TLS_VERIFY"
    default = rows[0][3].strip().strip("`*").lower()  # | key | env var | default | meaning |
    assert default in ("0", "false", "off", "no"), rows[0]


def test_unknown_librdkafka_passthrough_property_exits_2(rig):
    require_settings(*SECURITY_SETTINGS)  # passthrough comes with them (a pattern: not in --print-settings)
    env = {**clean_env(), **rig.worker_env("t", "g", "d", "c"),
           "ORDERSINK_LIBRDKAFKA_NO_SUCH_PROPERTY": "1"}
    r = subprocess.run([WORKER_BIN], env=env, capture_output=True, text=True, timeout=FAIL_WITHIN_S)
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert "no.such.property" in r.stderr, r.stderr
    # a known property passes the same check
    env = {**clean_env(), **rig.worker_env("t", "g", "d", "c"), "ORDERSINK_LIBRDKAFKA_SOCKET_KEEPALIVE_ENABLE": "true"}
    r = subprocess.run([WORKER_BIN, "--check-config"], env=env, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
