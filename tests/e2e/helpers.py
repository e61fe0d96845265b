"""Shared steps of the worker end-to-end tests: orders, waiting for commits, reading logs."""
import json
import time
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


def wait_for(predicate, timeout=30, what="condition"):
    """Polls predicate every 0.2 s until it is true; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
