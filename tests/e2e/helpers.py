"""Shared steps of the worker end-to-end tests: orders, waiting for commits, reading logs."""
import json
import socket
import time
import urllib.error
import urllib.request
import uuid

from confluent_kafka import KafkaException


# The worker's reads at start: the container, then its partition key ranges.
STARTUP_REQUESTS = 2


def order(i, customer=None, version=1, **extra):
    """A valid order JSON (bytes) and its key; orderId o<i>, customer c<i%17> unless given."""
    cust = customer or f"c{i % 17}"
    body = {"orderId": f"o{i}", "customerId": cust, "version": version, "currency": "EUR",
            "lines": [{"sku": f"sku-{i % 5}", "quantity": 1 + i % 3, "unitPrice": 9.5}],
            "total": 9.5 * (1 + i % 3)}
    body.update(extra)
    return cust.encode(), json.dumps(body).encode()


def names(prefix):
    """Unique topic, group, container names for one test."""
    u = uuid.uuid4().hex[:8]
    return f"{prefix}-{u}", f"{prefix}-g-{u}", f"{prefix}-{u}"


def setup_pipeline(rig, prefix, partitions, db="shop"):
    topic, group, coll = names(prefix)
    rig.create_topic(topic, partitions)
    rig.create_topic(topic + ".dlq", 1)
    rig.create_database(db)
    rig.create_container(db, coll)
    return topic, group, db, coll


def wait_committed(rig, group, topic, timeout=90, proc=None):
    """Waits until the group's committed offsets equal the high watermarks of every partition."""
    deadline = time.monotonic() + timeout
    committed = hw = None
    while time.monotonic() < deadline:
        try:
            hw = rig.high_watermarks(topic)
            committed = rig.committed(group, topic)
        except KafkaException:  # e.g. NOT_COORDINATOR while a fresh broker loads offsets
            time.sleep(0.5)
            continue
        if all(committed.get(p) == h for p, h in hw.items()):
            return committed
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode} before committing; see {proc.log_path}")
        time.sleep(0.5)
    raise AssertionError(f"not committed in {timeout}s: committed={committed} high={hw}")


def log_lines(path):
    """Every line of a worker log parsed as JSON (fails on a line that is not JSON)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def last_progress(path):
    lines = [l for l in log_lines(path) if l.get("msg") == "progress"]
    return lines[-1] if lines else None


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path; (0, "") when nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return 0, ""


def samples(text):
    """{'name{labels}': value} of a Prometheus exposition (comments skipped)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def metrics(port):
    """The worker's /metrics samples, {} while it does not answer."""
    status, text = http_get(port, "/metrics")
    return samples(text) if status == 200 else {}


def wait_for(predicate, timeout=30, what="condition", proc=None):
    """Polls predicate every 0.1 s; returns its first truthy value or fails naming `what`
    (also as soon as proc, when given, has exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"worker exited {proc.returncode} while waiting for {what}; see {proc.log_path}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def group_members(rig, group):
    """Members the broker lists in the consumer group now (DescribeGroups)."""
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": rig.bootstrap})
    desc = admin.describe_consumer_groups([group])[group].result(10)
    return list(desc.members)


def offsets_in_cosmos(rig, db, coll):
    """{partition: set of kafka.offset} of every document in the container."""
    out = {}
    for d in rig.query(db, coll, "SELECT c.kafka FROM c"):
        out.setdefault(d["kafka"]["partition"], set()).add(d["kafka"]["offset"])
    return out
