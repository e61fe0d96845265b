"""Test rig for ordersink end-to-end tests: Kafka + local Cosmos (see tests/rig/).

Usable from pytest (the session fixture `rig` in conftest.py) or standalone:

    from rig import Rig
    r = Rig().start("/tmp/run")      # runs tests/rig/rig.sh start; stopped at exit too
    r.create_topic("orders", 4)
    ...
    r.stop()
"""
import atexit
import base64
import email.utils
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
import urllib.parse
import uuid

import requests
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RIG_SH = os.path.join(REPO, "tests", "rig", "rig.sh")
WORKER_BIN = os.path.join(REPO, "bin", "worker")


def cosmos_auth(key, verb, resource_type, resource_link, date):
    """Cosmos master-key Authorization header value (RIG.md, "Cosmos DB REST")."""
    text = f"{verb.lower()}\n{resource_type.lower()}\n{resource_link}\n{date.lower()}\n\n"
    sig = base64.b64encode(hmac.new(base64.b64decode(key), text.encode(), hashlib.sha256).digest()).decode()
    return urllib.parse.quote(f"type=master&ver=1.0&sig={sig}", safe="")


def resource_of(path):
    """URL path -> (resourceType, resourceLink), same rule as tests/rig/cosmos.js."""
    segs = [urllib.parse.unquote(s) for s in path.split("?")[0].split("/") if s]
    if not segs:
        return "", ""
    if len(segs) % 2 == 0:
        return segs[-2], "/".join(segs)
    return segs[-1], "/".join(segs[:-1])


class Rig:
    def __init__(self):
        self.run_dir = None
        self.env = {}
        self.workers = []
        self._worker_seq = 0  # log names stay unique even when workers are started and removed in one second
        self._http = requests.Session()
        self._http.trust_env = False  # else $REQUESTS_CA_BUNDLE overrides verify=<rig CA>

    # ---------- lifecycle ----------
    def start(self, run_dir):
        self.run_dir = os.path.abspath(run_dir)
        atexit.register(self.stop)
        t0 = time.monotonic()
        subprocess.run(["bash", RIG_SH, "start", self.run_dir], check=True)
        self.start_seconds = time.monotonic() - t0
        with open(os.path.join(self.run_dir, "rig.env")) as f:
            self.env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        self._http.verify = self.env["COSMOS_CA_FILE"]
        self.wait_group_coordinator()
        return self

    def wait_group_coordinator(self, timeout=60):
        """Waits until the broker answers group requests: a fresh broker answers NOT_COORDINATOR /
        COORDINATOR_LOAD_IN_PROGRESS for a while (RIG.md), and a test's first commit or offset read
        would otherwise race it."""
        admin = self.admin()
        deadline = time.monotonic() + timeout
        while True:
            try:
                admin.describe_consumer_groups(["rig-probe"])["rig-probe"].result(5)
                return
            except KafkaException as e:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"group coordinator not ready in {timeout}s: {e}") from e
                time.sleep(0.2)

    def stop(self):
        for p in list(self.workers):
            if p.poll() is None:
                p.kill()
                p.wait()
        self.workers.clear()
        if self.run_dir:
            subprocess.run(["bash", RIG_SH, "stop", self.run_dir], check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def bootstrap(self):
        return self.env["KAFKA_BOOTSTRAP"]

    # ---------- Kafka ----------
    LISTENERS = ("plaintext", "scram", "plain", "plainuser", "mtls", "badhost")

    def kafka_config(self, listener="plaintext", **overrides):
        """confluent_kafka (librdkafka) settings that reach the rig's broker over one listener:
        plaintext, scram (SASL_SSL SCRAM-SHA-512), plain (SASL_SSL PLAIN as Event Hubs: $ConnectionString),
        plainuser (SASL_SSL PLAIN, plainuser), mtls (SSL + client cert), badhost (SSL, broker cert for
        wrong.example.invalid: fails host-name verification unless overridden). overrides: librdkafka
        properties with dots, e.g. **{"sasl.password": "x"}."""
        e = self.env
        if listener == "plaintext":  # needs nothing but KAFKA_BOOTSTRAP (also with an older rig.env)
            return {"bootstrap.servers": e["KAFKA_BOOTSTRAP"], **overrides}
        tls = {"ssl.ca.location": e["KAFKA_CA_FILE"]}
        cfg = {
            "scram": {"bootstrap.servers": e["KAFKA_SASL_SCRAM_BOOTSTRAP"], "security.protocol": "SASL_SSL",
                      "sasl.mechanisms": e["KAFKA_SCRAM_MECHANISM"], "sasl.username": e["KAFKA_SCRAM_USER"],
                      "sasl.password": e["KAFKA_SCRAM_PASSWORD"], **tls},
            "plain": {"bootstrap.servers": e["KAFKA_SASL_PLAIN_BOOTSTRAP"], "security.protocol": "SASL_SSL",
                      "sasl.mechanisms": "PLAIN", "sasl.username": "$ConnectionString",
                      "sasl.password": e["KAFKA_PLAIN_CONNECTION_STRING"], **tls},
            "plainuser": {"bootstrap.servers": e["KAFKA_SASL_PLAIN_BOOTSTRAP"], "security.protocol": "SASL_SSL",
                          "sasl.mechanisms": "PLAIN", "sasl.username": e["KAFKA_PLAIN_USER"],
                          "sasl.password": e["KAFKA_PLAIN_PASSWORD"], **tls},
            "mtls": {"bootstrap.servers": e["KAFKA_MTLS_BOOTSTRAP"], "security.protocol": "SSL",
                     "ssl.certificate.location": e["KAFKA_CLIENT_CERT"], "ssl.key.location": e["KAFKA_CLIENT_KEY"],
                     **tls},
            "badhost": {"bootstrap.servers": e["KAFKA_BADHOST_BOOTSTRAP"], "security.protocol": "SSL", **tls},
        }[listener]
        return {**cfg, **overrides}

    def admin(self):
        return AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topic(self, name, partitions=1, timeout=30, config=None):
        admin = self.admin()  # keep a reference: the futures fail if the client is garbage-collected
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                      config=config or {})])[name].result(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # wait until every partition has a leader
            t = admin.list_topics(name, timeout=5).topics.get(name)
            if t and not t.error and len(t.partitions) == partitions and all(p.leader >= 0 for p in t.partitions.values()):
                return
            time.sleep(0.1)
        raise TimeoutError(f"topic {name} not ready")

    def produce(self, topic, messages, timeout=60, listener="plaintext", config=None):
        """messages: iterable of (key: bytes|None, value: bytes, partition: int|None). Waits for all acks.
        listener: see kafka_config (default the PLAINTEXT listener); config: extra producer settings."""
        errors = []
        p = Producer({**self.kafka_config(listener), "acks": "all", "linger.ms": 5, "enable.idempotence": True,
                      **(config or {})})

        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)

        n = 0
        for key, value, partition in messages:
            kw = {} if partition is None else {"partition": partition}
            while True:
                try:
                    p.produce(topic, value=value, key=key, on_delivery=on_delivery, **kw)
                    break
                except BufferError:
                    p.poll(0.1)
            n += 1
        left = p.flush(timeout)
        if left or errors:
            raise KafkaException(f"produce to {topic}: {left} not delivered, errors: {errors[:5]}")
        return n

    def high_watermarks(self, topic):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"rig-wm-{uuid.uuid4()}"})
        try:
            parts = c.list_topics(topic, timeout=10).topics[topic].partitions
            return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in sorted(parts)}
        finally:
            c.close()

    def committed(self, group, topic):
        """{partition: committed offset or None} for group on topic (no subscription, no rebalance)."""
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            parts = c.list_topics(topic, timeout=10).topics[topic].partitions
            res = c.committed([TopicPartition(topic, p) for p in sorted(parts)], timeout=10)
            return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in res}
        finally:
            c.close()

    def consume_all(self, topic, timeout=30):
        """Every message of topic, from the start to the current end of each partition, as dicts."""
        ends = self.high_watermarks(topic)
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"rig-read-{uuid.uuid4()}",
                      "enable.auto.commit": False, "enable.partition.eof": True})
        out = []
        try:
            todo = {p for p, hw in ends.items() if hw > 0}
            c.assign([TopicPartition(topic, p, 0) for p in todo])  # offset 0 = earliest retained (nothing is deleted here)
            deadline = time.monotonic() + timeout
            while todo:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"consume_all({topic}): partitions {sorted(todo)} not read to the end")
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        if m.offset() >= ends[m.partition()]:
                            todo.discard(m.partition())
                        continue
                    raise KafkaException(m.error())
                out.append({"key": m.key(), "value": m.value(), "headers": m.headers() or [],
                            "partition": m.partition(), "offset": m.offset()})
                if m.offset() + 1 >= ends[m.partition()]:
                    todo.discard(m.partition())
        finally:
            c.close()
        return out

    # ---------- Cosmos (direct to the backend, bypassing the front's faults and counters) ----------
    def cosmos_request(self, method, path, body=None, headers=None, endpoint=None, key=None):
        """Signed request; endpoint defaults to COSMOS_DIRECT_ENDPOINT, key to COSMOS_KEY. Returns requests.Response."""
        date = email.utils.formatdate(usegmt=True)
        rtype, link = resource_of(path)
        h = {"x-ms-date": date, "x-ms-version": "2018-12-31", "accept": "application/json",
             "authorization": cosmos_auth(key or self.env["COSMOS_KEY"], method, rtype, link, date)}
        h.update(headers or {})
        data = body if body is None or isinstance(body, (bytes, str)) else json.dumps(body)
        if data is not None and "content-type" not in {k.lower() for k in h}:
            h["content-type"] = "application/json"
        return self._http.request(method, (endpoint or self.env["COSMOS_DIRECT_ENDPOINT"]) + path,
                                  data=data, headers=h, timeout=30)

    def create_database(self, db):
        r = self.cosmos_request("POST", "/dbs", {"id": db})
        if r.status_code not in (201, 409):
            raise RuntimeError(f"create_database {db}: {r.status_code} {r.text}")

    def create_container(self, db, coll, pk_path="/customerId", version=None, kind="Hash", paths=None, ranges=None,
                         **partitioning):
        """Creates db/coll with partitionKey {paths: paths or [pk_path], kind, version (omitted: V1)}.
        ranges (and the other set_partitioning settings) configure the front's partition key ranges
        (docs/rig-partitioning.md); without them the container has one range, as before."""
        pk = {"paths": paths or [pk_path], "kind": kind, **({"version": version} if version else {})}
        r = self.cosmos_request("POST", f"/dbs/{db}/colls", {"id": coll, "partitionKey": pk})
        if r.status_code not in (201, 409):
            raise RuntimeError(f"create_container {db}/{coll}: {r.status_code} {r.text}")
        if ranges is not None or partitioning:
            self.set_partitioning(db, coll, ranges=ranges, **partitioning)

    # ---------- the front's partition key ranges (docs/rig-partitioning.md) ----------
    def _partitioning(self, method, path, **kw):
        url = self.env["COSMOS_ADMIN"] + path
        r = requests.get(url, params=kw, timeout=10) if method == "GET" else requests.post(url, json=kw, timeout=10)
        if r.status_code != 200:
            raise RuntimeError(f"{method} {path} {kw}: {r.status_code} {r.text}")
        return r.json()

    def set_partitioning(self, db, coll, ranges=None, **settings):
        """ranges: a new map of that many even ranges (ids "0".."n-1"); settings: require_range_id,
        page_size, ru_per_second (per-range RU budget, None = none), ru_per_op. Returns the state."""
        kw = {k: v for k, v in settings.items()}
        if ranges is not None:
            kw["ranges"] = ranges
        return self._partitioning("POST", "/partitioning", db=db, coll=coll, **kw)

    def set_ru_budget(self, db, coll, ru_per_second, ru_per_op=1):
        return self.set_partitioning(db, coll, ru_per_second=ru_per_second, ru_per_op=ru_per_op)

    def split_range(self, db, coll, range_id):
        """Splits a live range; returns {parent, children, state}. The parent answers 410/1002 from now on."""
        return self._partitioning("POST", "/partitioning/split", db=db, coll=coll, range=str(range_id))

    def partitioning(self, db, coll):
        """{ranges: [{id, minInclusive, maxExclusive, parents, gone, landed, batches}], refused: {reason: n}, ...}"""
        return self._partitioning("GET", "/partitioning", db=db, coll=coll)

    def read_doc(self, db, coll, id, pk_value):
        r = self.cosmos_request("GET", f"/dbs/{db}/colls/{coll}/docs/{urllib.parse.quote(id, safe='')}", headers={
            "x-ms-documentdb-partitionkey": json.dumps([pk_value]),
            "x-ms-documentdb-query-enablecrosspartition": "True"})  # RIG.md: else a missing id gives 500
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise RuntimeError(f"read_doc {id}: {r.status_code} {r.text}")
        return r.json()

    def query(self, db, coll, sql, parameters=None):
        docs, cont = [], None
        while True:
            h = {"content-type": "application/query+json", "x-ms-documentdb-isquery": "True",
                 "x-ms-documentdb-query-enablecrosspartition": "True", "x-ms-max-item-count": "1000"}
            if cont:
                h["x-ms-continuation"] = cont
            r = self.cosmos_request("POST", f"/dbs/{db}/colls/{coll}/docs",
                                    json.dumps({"query": sql, "parameters": parameters or []}), headers=h)
            if r.status_code != 200:
                raise RuntimeError(f"query {sql!r}: {r.status_code} {r.text}")
            docs.extend(r.json().get("Documents", []))
            cont = r.headers.get("x-ms-continuation")
            if not cont:
                return docs

    def count_docs(self, db, coll):
        res = self.query(db, coll, "SELECT VALUE COUNT(1) FROM c")
        return sum(res)

    # ---------- front control ----------
    def set_faults(self, **kw):
        """throttle_ratio, retry_after_ms, error503_ratio, delay_ms, drop_ratio, refuse, duration_ms.
        Replaces the current fault set; applies to document writes through COSMOS_ENDPOINT only."""
        r = requests.post(self.env["COSMOS_ADMIN"] + "/faults", json=kw, timeout=10)
        r.raise_for_status()
        return r.json()

    def reset_faults(self):
        requests.post(self.env["COSMOS_ADMIN"] + "/reset", timeout=10).raise_for_status()

    def stats(self):
        return requests.get(self.env["COSMOS_ADMIN"] + "/stats", timeout=10).json()

    def reset_stats(self):
        requests.post(self.env["COSMOS_ADMIN"] + "/stats/reset", timeout=10).raise_for_status()

    # ---------- worker ----------
    def worker_env(self, topic, group, db, coll):
        return {
            "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "ORDERSINK_KAFKA_TOPIC": topic,
            "ORDERSINK_KAFKA_GROUP_ID": group,
            "ORDERSINK_COSMOS_ENDPOINT": self.env["COSMOS_ENDPOINT"],
            "ORDERSINK_COSMOS_KEY": self.env["COSMOS_KEY"],
            "ORDERSINK_COSMOS_CA_FILE": self.env["COSMOS_CA_FILE"],
            "ORDERSINK_COSMOS_DATABASE": db,
            "ORDERSINK_COSMOS_CONTAINER": coll,
            # Loopback only, and no fixed port two workers would fight over; tests that scrape
            # the endpoint set a free port.
            "ORDERSINK_METRICS_BIND": "127.0.0.1",
            "ORDERSINK_METRICS_PORT": "0",
        }

    def kafka_security_env(self, listener):
        """ORDERSINK_* settings (worker and producer) that reach the broker over one listener (see kafka_config):
        ORDERSINK_KAFKA_BOOTSTRAP_SERVERS plus the security settings; "plain" uses the Event Hubs connection
        string (EVENTHUBS_CONNECTION_STRING, with the bootstrap set explicitly so it wins over the derived one)."""
        e = self.env
        if listener == "plaintext":
            return {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": e["KAFKA_BOOTSTRAP"]}
        ca = {"ORDERSINK_KAFKA_SSL_CA_FILE": e["KAFKA_CA_FILE"]}
        return {
            "scram": {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": e["KAFKA_SASL_SCRAM_BOOTSTRAP"],
                      "ORDERSINK_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
                      "ORDERSINK_KAFKA_SASL_MECHANISM": e["KAFKA_SCRAM_MECHANISM"],
                      "ORDERSINK_KAFKA_SASL_USERNAME": e["KAFKA_SCRAM_USER"],
                      "ORDERSINK_KAFKA_SASL_PASSWORD": e["KAFKA_SCRAM_PASSWORD"], **ca},
            "plain": {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": e["KAFKA_SASL_PLAIN_BOOTSTRAP"],
                      "EVENTHUBS_CONNECTION_STRING": e["KAFKA_PLAIN_CONNECTION_STRING"], **ca},
            "plainuser": {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": e["KAFKA_SASL_PLAIN_BOOTSTRAP"],
                          "ORDERSINK_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "ORDERSINK_KAFKA_SASL_MECHANISM": "PLAIN",
                          "ORDERSINK_KAFKA_SASL_USERNAME": e["KAFKA_PLAIN_USER"],
                          "ORDERSINK_KAFKA_SASL_PASSWORD": e["KAFKA_PLAIN_PASSWORD"], **ca},
            "mtls": {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": e["KAFKA_MTLS_BOOTSTRAP"],
                     "ORDERSINK_KAFKA_SECURITY_PROTOCOL": "ssl",
                     "ORDERSINK_KAFKA_SSL_CERT_FILE": e["KAFKA_CLIENT_CERT"],
                     "ORDERSINK_KAFKA_SSL_KEY_FILE": e["KAFKA_CLIENT_KEY"], **ca},
            "badhost": {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": e["KAFKA_BADHOST_BOOTSTRAP"],
                        "ORDERSINK_KAFKA_SECURITY_PROTOCOL": "ssl", **ca},
        }[listener]

    def secrets(self):
        """Every secret the rig generated, {rig.env name: value}: none may ever appear in a log or an error."""
        names = ("COSMOS_KEY", "KAFKA_SCRAM_PASSWORD", "KAFKA_PLAIN_PASSWORD", "KAFKA_PLAIN_CONNECTION_STRING",
                 "KAFKA_CLIENT_KEY_PASSWORD")
        out = {k: self.env[k] for k in names if self.env.get(k)}
        cs = out.get("KAFKA_PLAIN_CONNECTION_STRING", "")
        if "SharedAccessKey=" in cs:  # the key alone must not leak either
            out["KAFKA_PLAIN_CONNECTION_STRING(SharedAccessKey)"] = cs.split("SharedAccessKey=", 1)[1].split(";")[0]
        return out

    def start_worker(self, env, args=(), log_path=None, binary=WORKER_BIN):
        """Popen of bin/worker with os.environ + env, stdout+stderr to log_path (default RUN_DIR/worker-N.log)."""
        if log_path is None:
            self._worker_seq += 1
            log_path = os.path.join(self.run_dir, f"worker-{self._worker_seq}-{int(time.time())}.log")
        with open(log_path, "ab") as log:
            p = subprocess.Popen([binary, *args], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        p.log_path = log_path
        self.workers.append(p)
        return p

    def stop_worker(self, p, sig=signal.SIGTERM, timeout=30):
        """Sends sig, waits up to timeout (then SIGKILL); returns the exit code (negative = killed by signal)."""
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.workers:
            self.workers.remove(p)
        return p.returncode


if __name__ == "__main__":  # python tests/e2e/rig.py RUN_DIR: start, print the env, stop on Enter/Ctrl-C
    import sys
    r = Rig().start(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, ".cache", "run"))
    print("\n".join(f"{k}={v}" for k, v in r.env.items()))
    try:
        input("rig is up; press Enter to stop\n")
    except (KeyboardInterrupt, EOFError):
        pass
    r.stop()
