"""`bin/worker lag` on the real broker: the scale-to-zero precondition KEDA depends on."""
import os
import re
import subprocess

from confluent_kafka import Consumer, TopicPartition

from helpers import names, order, setup_pipeline, wait_committed
from rig import WORKER_BIN


def worker_lag(rig, topic, group, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSINK_")}
    env.update(ORDERSINK_KAFKA_BOOTSTRAP_SERVERS=rig.bootstrap, ORDERSINK_KAFKA_TOPIC=topic,
               ORDERSINK_KAFKA_GROUP_ID=group)
    r = subprocess.run([WORKER_BIN, "lag", *args], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    parts = {int(m[0]): (m[1], int(m[3]), int(m[4]))
             for m in re.findall(r"^partition (\d+) committed (\S+) start (\d+) high (\d+) lag (\d+)", r.stdout,
                                 re.M)}
    total = re.search(r"^total lag (\d+) metric (\d+)", r.stdout, re.M)
    state = re.search(r"^(active|idle) replicas (\d+)", r.stdout, re.M)
    return parts, int(total[1]), int(total[2]), state[1], int(state[2])


def test_lag_as_keda_sees_it_before_and_after_the_worker_drains(rig):
    topic, group, db, coll = setup_pipeline(rig, "lag", 6)
    # A burst of 10,000 orders into partitions 0-4; partition 5 is never written.
    rig.produce(topic, [(*order(i), i % 5) for i in range(10000)])
    hw = rig.high_watermarks(topic)

    parts, total, metric, state, replicas = worker_lag(rig, topic, group, "--lag-threshold", "1000",
                                                       "--offset-reset-policy", "earliest")
    assert {p: v[2] for p, v in parts.items()} == hw  # no commits: lag = whole partition
    assert all(v[0] == "none" for v in parts.values())
    assert total == 10000 and metric == 6000  # capped at partitions x lagThreshold
    assert state == "active" and replicas == min(6, -(-10000 // 1000))

    parts, total, _, state, replicas = worker_lag(rig, topic, group, "--lag-threshold", "1000",
                                                  "--offset-reset-policy", "latest")
    assert total == 6 and state == "active" and replicas == 1  # latest: 1 per partition

    w = rig.start_worker(rig.worker_env(topic, group, db, coll))
    wait_committed(rig, group, topic, proc=w)
    assert rig.stop_worker(w) == 0

    parts, total, metric, state, replicas = worker_lag(rig, topic, group, "--lag-threshold", "1000")
    assert {p: v[2] for p, v in parts.items()} == {p: 0 for p in range(6)}
    assert parts[5] == ("0", 0, 0), "the never-written partition has its start offset committed"
    committed = rig.committed(group, topic)
    assert {p: int(v[0]) for p, v in parts.items()} == committed
    assert total == 0 and metric == 0 and state == "idle" and replicas == 0


def test_lag_without_commits_counts_only_records_still_in_the_log(rig):
    """KEDA v2.21, offsetResetPolicy earliest: high watermark - log start, not the high watermark."""
    topic, group, _ = names("lagret")
    rig.create_topic(topic, 3)
    rig.produce(topic, [(None, b"x", p) for p in (0, 1) for _ in range(300)])
    admin = rig.admin()
    for f in admin.delete_records([TopicPartition(topic, 0, 160), TopicPartition(topic, 1, 300)]).values():
        f.result(30)
    parts, total, metric, state, replicas = worker_lag(rig, topic, group, "--offset-reset-policy", "earliest")
    assert parts == {0: ("none", 300, 140), 1: ("none", 300, 0), 2: ("none", 0, 0)}
    assert (total, metric, state, replicas) == (140, 140, "active", 1)
    admin.delete_records([TopicPartition(topic, 0, 300)])[TopicPartition(topic, 0, 300)].result(30)
    _, total, _, state, replicas = worker_lag(rig, topic, group, "--offset-reset-policy", "earliest")
    assert (total, state, replicas) == (0, "idle", 0), "every record deleted: nothing to consume"


def test_exclude_persistent_lag_remembers_the_previous_poll(rig, tmp_path):
    topic, group, _ = names("lagstuck")
    rig.create_topic(topic, 2)
    rig.produce(topic, [(None, b"x", p) for p in (0, 1) for _ in range(500)])
    c = Consumer({"bootstrap.servers": rig.bootstrap, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 50), TopicPartition(topic, 1, 0)], asynchronous=False)
    flags = ("--lag-threshold", "100", "--exclude-persistent-lag", "--state", str(tmp_path / "state"))
    _, total, metric, state, _ = worker_lag(rig, topic, group, *flags)
    assert (total, metric, state) == (950, 200, "active")  # first poll: all counts (capped at 2 x 100)
    c.commit(offsets=[TopicPartition(topic, 1, 400)], asynchronous=False)
    c.close()
    _, total, metric, state, replicas = worker_lag(rig, topic, group, *flags)
    assert (total, metric, state, replicas) == (100, 100, "active", 1)  # partition 0 stuck at 50: excluded
