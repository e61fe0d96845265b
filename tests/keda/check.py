"""make keda-check: KEDA's own Kafka scaler (build/kedacheck, the release pinned in
tests/keda/go.mod) and `bin/worker lag` on the same broker states, case by case.

For each broker state (topic, group, records, commits, log start moved by delete-records, a real
worker's drain) and each trigger variant (the shipped keda/common/scaledobject.yaml metadata, then
one option changed), it asks KEDA (NewKafkaScaler -> GetMetricsAndActivity) and `worker lag` with
the same metadata as flags, and compares the metric, active/idle and the replicas the HPA would
ask for (ceil(metric / lagThreshold), at least 1 when active, at most maxReplicaCount = the
partition count; 0 when idle). Prints a Markdown table (also written to build/keda-check.md) and
exits 1 on any difference, 2 when it could not run.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "tests", "scale"))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

import keda_spec  # noqa: E402
from helpers import order, wait_committed  # noqa: E402
from rig import WORKER_BIN, Rig  # noqa: E402

KEDACHECK = os.path.join(REPO, "build", "kedacheck")
KEDA_VERSION = re.search(r"github.com/kedacore/keda/v2 (v\S+)", open(os.path.join(HERE, "go.mod")).read())[1]

# Trigger metadata -> `worker lag` flag (None: a value flag). Connection keys are filled in per case.
FLAGS = {"lagThreshold": "--lag-threshold", "activationLagThreshold": "--activation-lag-threshold",
         "offsetResetPolicy": "--offset-reset-policy"}
BOOL_FLAGS = {"allowIdleConsumers": "--allow-idle-consumers",
              "scaleToZeroOnInvalidOffset": "--scale-to-zero-on-invalid-offset",
              "limitToPartitionsWithLag": "--limit-to-partitions-with-lag",
              "ensureEvenDistributionOfPartitions": "--ensure-even-distribution-of-partitions",
              "excludePersistentLag": "--exclude-persistent-lag"}
CONNECTION = ("bootstrapServers", "topic", "consumerGroup")

# Trigger variants: the shipped metadata with these changes.
VARIANTS = [
    ("shipped", {}),
    ("latest", {"offsetResetPolicy": "latest"}),
    ("scaleToZeroOnInvalidOffset", {"scaleToZeroOnInvalidOffset": "true"}),
    ("latest, scaleToZeroOnInvalidOffset", {"offsetResetPolicy": "latest", "scaleToZeroOnInvalidOffset": "true"}),
    ("lagThreshold 100", {"lagThreshold": "100"}),
    ("lagThreshold 100, activationLagThreshold 250", {"lagThreshold": "100", "activationLagThreshold": "250"}),
    ("lagThreshold 100, allowIdleConsumers", {"lagThreshold": "100", "allowIdleConsumers": "true"}),
    ("lagThreshold 100, limitToPartitionsWithLag", {"lagThreshold": "100", "limitToPartitionsWithLag": "true"}),
    ("lagThreshold 100, ensureEvenDistributionOfPartitions",
     {"lagThreshold": "100", "ensureEvenDistributionOfPartitions": "true"}),
    ("lagThreshold 100, excludePersistentLag", {"lagThreshold": "100", "excludePersistentLag": "true"}),
]


class Keda:
    """build/kedacheck: one JSON request a line in, one answer a line out."""

    def __init__(self):
        self.p = subprocess.Popen([KEDACHECK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def poll(self, scaler, metadata):
        self.p.stdin.write(json.dumps({"scaler": scaler, "metadata": metadata}) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"kedacheck exited ({self.p.wait()})")
        return json.loads(line)

    def close(self):
        self.p.stdin.close()
        self.p.wait(30)


def worker_lag(rig, topic, group, metadata, state_file):
    args = []
    for k, v in metadata.items():
        if k in CONNECTION:
            continue
        if k in FLAGS:
            args += [FLAGS[k], v]
        elif k in BOOL_FLAGS:
            args += [BOOL_FLAGS[k]] if v == "true" else []
        else:
            raise SystemExit(f"keda-check: trigger option {k} has no `worker lag` flag")
    if metadata.get("excludePersistentLag") == "true":
        args += ["--state", state_file]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSINK_")}
    env.update(ORDERSINK_CONFIG="", ORDERSINK_KAFKA_BOOTSTRAP_SERVERS=rig.bootstrap, ORDERSINK_KAFKA_TOPIC=topic,
               ORDERSINK_KAFKA_GROUP_ID=group)
    r = subprocess.run([WORKER_BIN, "lag", *args], env=env, capture_output=True, text=True, timeout=120)
    if r.returncode == 2:
        return {"refused": r.stderr.strip()}
    if r.returncode != 0:
        raise RuntimeError(f"worker lag {args}: exit {r.returncode}: {r.stderr}")
    m = re.search(r"^total lag (-?\d+) metric (\d+)", r.stdout, re.M)
    s = re.search(r"^(active|idle) replicas (\d+)", r.stdout, re.M)
    return {"metric": int(m[2]), "active": s[1] == "active", "replicas": int(s[2]), "out": r.stdout}


def hpa_replicas(answer, metadata, partitions):
    """What the HPA makes of KEDA's answer (AverageValue target = lagThreshold, min 1, max partitions)."""
    if not answer["active"]:
        return 0
    return max(1, min(partitions, math.ceil(answer["metric"] / int(metadata["lagThreshold"]))))


# ------------------------------------------------------------------ broker states
class States:
    def __init__(self, rig):
        self.rig = rig
        self.admin = rig.admin()

    def topic(self, partitions, records):
        """A new topic with records[p] small records in partition p; returns (topic, group)."""
        u = uuid.uuid4().hex[:8]
        topic, group = f"kc-{u}", f"kc-g-{u}"
        self.rig.create_topic(topic, partitions)
        msgs = [(None, b"x", p) for p, n in enumerate(records) for _ in range(n)]
        if msgs:
            self.rig.produce(topic, msgs)
        return topic, group

    def commit(self, topic, group, offsets):
        c = Consumer({"bootstrap.servers": self.rig.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
        finally:
            c.close()

    def delete_records(self, topic, before):
        """Moves each partition's log start to before[p], as retention would."""
        futs = self.admin.delete_records([TopicPartition(topic, p, o) for p, o in before.items()])
        for f in futs.values():
            f.result(30)

    def build(self):
        """[(name, topic, group, partitions, step)]: step(poll) is None, or for states polled twice
        a function that changes the state between the two polls."""
        out = []
        t, g = self.topic(4, [0, 0, 0, 0])
        out.append(("empty partitions, no commits", t, g, 4, None))
        t, g = self.topic(4, [300, 300, 0, 0])
        out.append(("300+300 records in 2 of 4 partitions, no commits", t, g, 4, None))
        t, g = self.topic(2, [300, 0])
        self.delete_records(t, {0: 160})
        out.append(("300 records, log start moved to 160 by retention, no commits", t, g, 2, None))
        t, g = self.topic(2, [300, 0])
        self.delete_records(t, {0: 300})
        out.append(("300 records, all deleted by retention, no commits", t, g, 2, None))
        t, g = self.topic(4, [300, 300, 300, 0])
        self.commit(t, g, {0: 100, 1: 300, 3: 0})
        out.append(("partial lag: 200, 0, no commit on 300, empty committed 0", t, g, 4, None))
        t, g = self.topic(4, [3000, 3000, 0, 0])
        self.commit(t, g, {0: 0, 1: 0, 2: 0, 3: 0})
        out.append(("backlog 3000+3000 in 2 of 4 partitions, committed 0", t, g, 4, None))
        t, g = self.topic(2, [300, 0])
        self.commit(t, g, {0: 100, 1: 0})
        self.delete_records(t, {0: 160})
        out.append(("committed 100, log start moved to 160, high 300", t, g, 2, None))
        out.append(self.drained())
        t, g = self.topic(2, [500, 500])
        self.commit(t, g, {0: 50, 1: 0})
        moved = {1: 0}

        def advance():  # partition 1 moves on by 200 between the two polls of each variant
            moved[1] += 200
            self.commit(t, g, moved)
        out.append(("partition 0 stuck at 50 of 500; partition 1 moves on by 200 between polls", t, g, 2,
                    advance))
        return out

    def drained(self):
        """A real worker drained 1,200 orders from partitions 0-3 of 6; 4 and 5 were never written."""
        rig = self.rig
        u = uuid.uuid4().hex[:8]
        topic, group, db, coll = f"kc-{u}", f"kc-g-{u}", "shop", f"kc-{u}"
        rig.create_topic(topic, 6)
        rig.create_topic(topic + ".dlq", 1)
        rig.create_database(db)
        rig.create_container(db, coll)
        rig.produce(topic, [(*order(i), i % 4) for i in range(1200)])
        w = rig.start_worker(rig.worker_env(topic, group, db, coll))
        wait_committed(rig, group, topic, proc=w)
        if rig.stop_worker(w) != 0:
            raise RuntimeError(f"worker did not stop cleanly; see {w.log_path}")
        return ("after a worker drained 1,200 orders; partitions 4, 5 never written", topic, group, 6, None)


def fmt(a):
    if "refused" in a:
        return "refused"
    return f"{a['metric']} / {'active' if a['active'] else 'idle'} / {a['replicas']}"


def main():
    if not os.access(KEDACHECK, os.X_OK) or not os.access(WORKER_BIN, os.X_OK):
        print("keda-check: build/kedacheck and bin/worker are needed (make keda-check builds them)")
        return 2
    shipped = keda_spec.load()
    base = {k: v for k, v in shipped["metadata"].items() if k not in CONNECTION}
    run_dir = tempfile.mkdtemp(prefix="keda-check-")
    rig = Rig().start(run_dir)
    keda = Keda()
    rows, mismatches, n = [], 0, 0
    t0 = time.monotonic()
    try:
        states = States(rig).build()
        for state, topic, group, parts, step in states:
            polls = 2 if step else 1
            variants = VARIANTS if not step else [VARIANTS[0], VARIANTS[-1]]
            for vname, change in variants:
                meta = {**base, **change, "bootstrapServers": rig.bootstrap, "topic": topic, "consumerGroup": group}
                scaler = f"{topic}/{vname}"
                state_file = os.path.join(run_dir, f"lag-state-{uuid.uuid4().hex[:8]}")
                for poll in range(polls):
                    if poll == 1:
                        step()
                    k = keda.poll(scaler, meta)
                    if k.get("error"):
                        raise RuntimeError(f"KEDA failed on {state} / {vname}: {k['error']}")
                    k["replicas"] = hpa_replicas(k, meta, parts)
                    w = worker_lag(rig, topic, group, meta, state_file)
                    ok = "refused" not in w and (k["metric"], k["active"], k["replicas"]) == (
                        w["metric"], w["active"], w["replicas"])
                    n += 1
                    mismatches += not ok
                    label = state + (f" (poll {poll + 1})" if polls > 1 else "")
                    rows.append((n, label, vname, fmt(k), fmt(w), "ok" if ok else "**DIFFERS**"))
                    if not ok:
                        print(f"case {n} differs: {label} / {vname}: KEDA {k} worker lag {w}", file=sys.stderr)
        # KEDA refuses this pair; so must worker lag.
        state, topic, group, parts, _ = states[1]
        meta = {**base, "allowIdleConsumers": "true", "limitToPartitionsWithLag": "true",
                "bootstrapServers": rig.bootstrap, "topic": topic, "consumerGroup": group}
        k = keda.poll(f"{topic}/conflict", meta)
        w = worker_lag(rig, topic, group, meta, "")
        ok = bool(k.get("error")) and "refused" in w
        n += 1
        mismatches += not ok
        rows.append((n, state, "allowIdleConsumers + limitToPartitionsWithLag",
                     "refused" if k.get("error") else fmt(k), fmt(w), "ok" if ok else "**DIFFERS**"))
    finally:
        keda.close()
        rig.stop()
    lines = [f"KEDA {KEDA_VERSION} (`NewKafkaScaler` -> `GetMetricsAndActivity`) vs `bin/worker lag`, "
             f"Kafka {os.environ.get('RIG_KAFKA_VERSION', '4.4.0')}; shipped trigger: "
             + ", ".join(f"{k} {v}" for k, v in base.items()) + ".",
             "Each cell: metric / activity / replicas the HPA asks for (max = partitions).", "",
             "| # | broker state | trigger (shipped, changed) | KEDA | worker lag | |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} |" for r in rows]
    lines += ["", f"{n - mismatches} of {n} cases agree ({time.monotonic() - t0:.0f} s)."]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
    with open(os.path.join(REPO, "build", "keda-check.md"), "w") as f:
        f.write(text)
    print(f"{n - mismatches} passed, {mismatches} failed")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
