"""End-to-end tests of bin/producer against the rig's Kafka: rate, counts, burst, dry-run
determinism and flag errors. Build first (`make all`)."""
import json
import os
import re
import subprocess
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRODUCER = os.path.join(REPO, "bin", "producer")


def run_producer(args, rig=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSINK_")}
    if rig is not None:
        env["ORDERSINK_KAFKA_BOOTSTRAP_SERVERS"] = rig.bootstrap
    t0 = time.monotonic()
    p = subprocess.run([PRODUCER, *args], env=env, capture_output=True, timeout=timeout)
    return p, time.monotonic() - t0


def summary(stderr):
    """The final summary line's key=value fields as a dict."""
    lines = [l for l in stderr.decode().splitlines() if l.startswith("producer: done ")]
    assert lines, stderr.decode()
    return dict(re.findall(r"(\w+)=(\S+)", lines[-1]))


def topic_name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_rate_count_and_delivery(rig):
    topic = topic_name("prod")
    p, secs = run_producer(["--topic", topic, "--create-topic", "3", "--count", "20000",
                            "--rate", "5000", "--seed", "1"], rig)
    assert p.returncode == 0, p.stderr.decode()
    assert 3 <= secs <= 10, f"took {secs:.1f}s"
    s = summary(p.stderr)
    assert s["sent"] == "20000" and s["acknowledged"] == "20000" and s["failed"] == "0", s
    progress = [l for l in p.stderr.decode().splitlines() if l.startswith("producer: sent=")]
    assert len(progress) >= 3  # one a second
    hw = rig.high_watermarks(topic)
    assert len(hw) == 3
    assert sum(hw.values()) == 20000
    msgs = rig.consume_all(topic)
    assert len(msgs) == 20000
    orders = [json.loads(m["value"]) for m in msgs]
    assert len({o["orderId"] for o in orders}) == 20000
    assert all(m["key"].decode() == o["customerId"] for m, o in zip(msgs, orders))


def test_burst_exact_count(rig):
    topic = topic_name("burst")
    p, _ = run_producer(["--topic", topic, "--create-topic", "2", "--pattern", "burst",
                         "--count", "3000"], rig)
    assert p.returncode == 0, p.stderr.decode()
    assert summary(p.stderr)["acknowledged"] == "3000"
    assert sum(rig.high_watermarks(topic).values()) == 3000


def test_existing_topic_is_fine(rig):
    topic = topic_name("exists")
    rig.create_topic(topic, 1)
    p, _ = run_producer(["--topic", topic, "--create-topic", "4", "--count", "10"], rig)
    assert p.returncode == 0, p.stderr.decode()
    assert sum(rig.high_watermarks(topic).values()) == 10


def test_dry_run_is_deterministic():
    a, _ = run_producer(["--dry-run", "--count", "5", "--seed", "7"])
    b, _ = run_producer(["--dry-run", "--count", "5", "--seed", "7"])
    assert a.returncode == 0 and b.returncode == 0, a.stderr.decode()
    assert a.stdout == b.stdout
    lines = a.stdout.decode().splitlines()
    assert len(lines) == 5
    first = json.loads(lines[0])
    assert first["createdAt"] == "2026-01-01T00:00:00.000Z"
    c, _ = run_producer(["--dry-run", "--count", "5", "--seed", "8"])
    assert c.stdout != a.stdout


def test_bad_flags_exit_2():
    for args, flag in ((["--rate", "-1"], "--rate"), (["--pattern", "nope"], "--pattern"),
                       (["--count", "x"], "--count"), (["--bad-ratio", "2"], "--bad-ratio")):
        p, _ = run_producer(["--dry-run", *args])
        assert p.returncode == 2, (args, p.stderr)
        err = p.stderr.decode().strip().splitlines()
        assert len(err) == 1 and flag in err[0], err


def test_missing_config_exit_2():
    p, _ = run_producer(["--count", "1"])
    assert p.returncode == 2
    assert "kafka.bootstrap_servers" in p.stderr.decode()
