"""`make demo`: starts the rig, runs bin/producer for ~15 s and bin/worker, prints one progress
line per second, verifies every order in Cosmos, prints a summary and stops the rig."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e"))
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from rig import REPO, Rig  # noqa: E402
from helpers import last_progress  # noqa: E402

RATE, SECONDS, PARTITIONS = 600, 15, 6
TOPIC, GROUP, DB, COLL = "orders", "ordersink-demo", "shop", "orders"


class Offsets:
    """Committed offsets and high watermarks read through one client kept open (it never
    subscribes, so it does not join the worker's group): a line takes milliseconds, not the
    second a new client spends connecting."""

    def __init__(self, rig):
        self.c = Consumer({"bootstrap.servers": rig.bootstrap, "group.id": GROUP,
                           "enable.auto.commit": False})
        self.tps = None

    def read(self):
        if self.tps is None:
            parts = self.c.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
            self.tps = [TopicPartition(TOPIC, p) for p in sorted(parts)]
        committed = {tp.partition: max(tp.offset, 0) for tp in self.c.committed(self.tps, timeout=10)}
        hw = {tp.partition: self.c.get_watermark_offsets(tp, timeout=10, cached=False)[1] for tp in self.tps}
        return committed, hw

    def close(self):
        self.c.close()


def progress_line(offsets, t, worker_log):
    # Read in this order so that produced >= consumed and lag >= 0 on the printed line.
    p = last_progress(worker_log) or {}
    committed, hw = offsets.read()
    lag = sum(h - committed.get(part, 0) for part, h in hw.items())
    print(f"[{t:5.1f}s] produced {sum(hw.values()):6d}  consumed {p.get('consumed', 0):6d}  "
          f"written {p.get('written', 0):6d}  dead-lettered {p.get('dead_lettered', 0):3d}  lag {lag:6d}",
          flush=True)
    return lag


def main():
    run_dir = tempfile.mkdtemp(prefix="ordersink-demo-")
    rig = Rig().start(run_dir)
    try:
        rig.create_topic(TOPIC + ".dlq", 1)
        rig.create_database(DB)
        rig.create_container(DB, COLL)
        env = rig.worker_env(TOPIC, GROUP, DB, COLL)
        env["ORDERSINK_LOG_STATS_INTERVAL_MS"] = "1000"
        producer_log = open(os.path.join(run_dir, "producer.log"), "w")
        producer = subprocess.Popen(
            [os.path.join(REPO, "bin", "producer"), "--topic", TOPIC, "--create-topic", str(PARTITIONS),
             "--rate", str(RATE), "--duration", str(SECONDS), "--bad-ratio", "0.002"],
            env={**os.environ, **env}, stdout=producer_log, stderr=subprocess.STDOUT)
        time.sleep(1)  # the producer creates the topic
        worker = rig.start_worker(env)
        print(f"rig up in {rig.start_seconds:.1f}s; producer at {RATE} orders/s for {SECONDS}s; "
              f"worker log {worker.log_path}", flush=True)
        t0 = time.monotonic()
        offsets = Offsets(rig)
        next_line = t0 + 1
        while True:
            time.sleep(max(0.0, next_line - time.monotonic()))
            next_line += 1
            lag = progress_line(offsets, time.monotonic() - t0, worker.log_path)
            if producer.poll() is not None and lag == 0:
                break
            if worker.poll() is not None:
                sys.exit(f"worker exited with {worker.returncode}; see {worker.log_path}")
            if time.monotonic() - t0 > SECONDS + 60:
                sys.exit("demo: worker did not catch up within 60 s after the producer stopped")
        offsets.close()
        if producer.returncode != 0:
            sys.exit(f"producer failed ({producer.returncode}); see {run_dir}/producer.log")
        elapsed = time.monotonic() - t0
        rc = rig.stop_worker(worker)
        # Verify independently of the worker: every valid order in the topic is in Cosmos.
        ids = {}
        for m in rig.consume_all(TOPIC):
            try:
                o = json.loads(m["value"])
                if isinstance(o, dict) and isinstance(o.get("orderId"), str) and "/" not in o["orderId"] \
                        and isinstance(o.get("customerId"), str):
                    ids[o["orderId"]] = o
            except (ValueError, UnicodeDecodeError):
                pass
        docs = {d["id"]: d for d in rig.query(DB, COLL, "SELECT * FROM c")}
        missing = [i for i in ids if i not in docs]
        dlq = rig.consume_all(TOPIC + ".dlq")
        p = last_progress(worker.log_path)
        print(f"\nsummary: {sum(rig.high_watermarks(TOPIC).values())} messages, {len(ids)} distinct valid orders, "
              f"{len(docs)} documents in Cosmos, {len(missing)} missing, {len(dlq)} dead-lettered; "
              f"worker wrote {p['written']} in {elapsed:.1f}s ({p['written'] / elapsed:.0f} orders/s, "
              f"{p['cosmos_requests']} Cosmos requests), exit code {rc}")
        if missing or rc != 0:
            sys.exit("demo: FAILED")
        print("demo: OK")
    finally:
        rig.stop()


if __name__ == "__main__":
    main()
