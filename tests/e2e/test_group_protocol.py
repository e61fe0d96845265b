"""End-to-end: kafka.group_protocol. On Kafka 4.x the worker joins as a KIP-848 `consumer` group
member, and a scale-out/scale-in under load rebalances incrementally and loses nothing; on 3.9.1
(`make e2e-kafka39`) the broker lacks the protocol and the worker says so. Bad values exit 2
(no broker needed). The whole worker suite under the consumer protocol: `make e2e-consumer-protocol`."""
import os
import subprocess
import time

import pytest
from confluent_kafka import ConsumerGroupType
from confluent_kafka.admin import AdminClient
from rig import WORKER_BIN
from helpers import log_lines, order, setup_pipeline, wait_committed


def kafka4(rig):
    return int(rig.env["KAFKA_VERSION"].split(".")[0]) >= 4


def group_types(rig, group):
    """The types the broker lists the group under (ListGroups with a type filter, KIP-848)."""
    admin = AdminClient({"bootstrap.servers": rig.bootstrap})
    out = set()
    for t in (ConsumerGroupType.CONSUMER, ConsumerGroupType.CLASSIC):
        res = admin.list_consumer_groups(types={t}, request_timeout=20).result()
        if group in {g.group_id for g in res.valid}:
            out.add(t)
    return out


def assigned_sets(path):
    """The partitions each 'partitions assigned' / 'partitions revoked' line of a worker log names."""
    out = []
    for line in log_lines(path):
        if line.get("msg") in ("partitions assigned", "partitions revoked"):
            parts = {int(p) for p in line["partitions"].split(",") if p}
            out.append((line["msg"].split()[1], parts))
    return out


def test_consumer_protocol_rebalances_incrementally_and_loses_nothing(rig):
    if not kafka4(rig):
        pytest.skip("KIP-848 needs Kafka >= 4.0")
    topic, group, db, coll = setup_pipeline(rig, "kip848", 4)
    rig.produce(topic, [(*order(i), i % 4) for i in range(2000)])
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_KAFKA_GROUP_PROTOCOL="consumer", ORDERSINK_KAFKA_GROUP_REMOTE_ASSIGNOR="uniform")
    w1 = rig.start_worker(env)
    wait_committed(rig, group, topic, proc=w1)
    assert group_types(rig, group) == {ConsumerGroupType.CONSUMER}
    started = [l for l in log_lines(w1.log_path) if l.get("msg") == "worker started"]
    assert started[0]["group_protocol"] == "consumer"

    # Scale out while orders arrive: w1 gives up some partitions (never all: incremental).
    w2 = rig.start_worker(env)
    deadline = time.monotonic() + 40
    while not any(kind == "assigned" for kind, _ in assigned_sets(w2.log_path)):
        assert time.monotonic() < deadline, "w2 got no partitions"
        assert w2.poll() is None, f"w2 exited {w2.returncode}"
        time.sleep(0.3)
    rig.produce(topic, [(*order(i), i % 4) for i in range(2000, 4000)])
    wait_committed(rig, group, topic, proc=w1)
    revoked = [p for kind, p in assigned_sets(w1.log_path) if kind == "revoked"]
    assert revoked and all(len(p) < 4 for p in revoked), f"w1 lost everything at once: {revoked}"
    got2 = set().union(*(p for kind, p in assigned_sets(w2.log_path) if kind == "assigned"))
    assert got2 and len(got2) < 4

    # Scale in: w2 commits what it wrote on SIGTERM and w1 takes its partitions back.
    assert rig.stop_worker(w2) == 0
    rig.produce(topic, [(*order(i), i % 4) for i in range(4000, 4400)])
    wait_committed(rig, group, topic, proc=w1)
    assert rig.stop_worker(w1) == 0
    assert rig.count_docs(db, coll) == 4400


def test_consumer_protocol_on_a_broker_without_it_names_the_setting(rig):
    if kafka4(rig):
        pytest.skip("runs on Kafka 3.9.1 (make e2e-kafka39), whose brokers lack KIP-848 by default")
    topic, group, db, coll = setup_pipeline(rig, "nokip848", 1)
    rig.produce(topic, [(*order(i), 0) for i in range(10)])
    env = rig.worker_env(topic, group, db, coll)
    env["ORDERSINK_KAFKA_GROUP_PROTOCOL"] = "consumer"
    w = rig.start_worker(env)
    assert w.wait(timeout=60) == 1
    errors = [l for l in log_lines(w.log_path) if l["level"] == "error"]
    assert any("ORDERSINK_KAFKA_GROUP_PROTOCOL=classic" in l["msg"] for l in errors), errors
    assert all(v is None for v in rig.committed(group, topic).values())


@pytest.mark.parametrize("env,want", [
    ({"ORDERSINK_KAFKA_GROUP_PROTOCOL": "kip848"}, "kafka.group_protocol"),
    ({"ORDERSINK_KAFKA_GROUP_PROTOCOL": "consumer", "ORDERSINK_KAFKA_ASSIGNOR": "cooperative-sticky"},
     "kafka.assignor"),
    ({"ORDERSINK_KAFKA_GROUP_PROTOCOL": "consumer", "ORDERSINK_LIBRDKAFKA_SESSION_TIMEOUT_MS": "10000"},
     "session.timeout.ms"),
    ({"ORDERSINK_KAFKA_GROUP_REMOTE_ASSIGNOR": "uniform"}, "kafka.group_remote_assignor"),
])
def test_group_protocol_settings_are_checked_at_start(env, want):
    base = {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "ORDERSINK_KAFKA_TOPIC": "t",
            "ORDERSINK_COSMOS_ENDPOINT": "https://127.0.0.1:1", "ORDERSINK_COSMOS_KEY": "a2V5",
            "ORDERSINK_COSMOS_DATABASE": "d", "ORDERSINK_COSMOS_CONTAINER": "c"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERSINK_", "EVENTHUBS_"))}
    r = subprocess.run([WORKER_BIN, "--check-config"], env={**clean, **base, **env},
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and want in lines[0], r.stderr
