"""`bin/worker lag` on the real broker: the scale-to-zero precondition KEDA depends on."""
import os
import re
import subprocess

from helpers import order, setup_pipeline, wait_committed
from rig import WORKER_BIN


def worker_lag(rig, topic, group, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSINK_")}
    env.update(ORDERSINK_KAFKA_BOOTSTRAP_SERVERS=rig.bootstrap, ORDERSINK_KAFKA_TOPIC=topic,
               ORDERSINK_KAFKA_GROUP_ID=group)
    r = subprocess.run([WORKER_BIN, "lag", *args], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    parts = {int(m[0]): (m[1], int(m[2]), int(m[3]))
             for m in re.findall(r"^partition (\d+) committed (\S+) high (\d+) lag (\d+)$", r.stdout, re.M)}
    total = re.search(r"^total lag (\d+) metric (\d+)$", r.stdout, re.M)
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
