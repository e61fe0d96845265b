#!/usr/bin/env python3
"""Cost of each cosmos.write_mode (docs/write-modes.md), measured at the rig's Cosmos front.

    .cache/venv/bin/python tests/bench/write_modes.py [--orders N] [--bulk 1|0]

For a mostly-new mix (producer --updates 0.02) and a 20 %-updates mix (--updates 0.2), N orders are
preloaded into a 6-partition topic once; then for write_mode upsert and versioned a fresh consumer
group and container: the worker runs until every offset is committed. Reported per order: HTTP
requests and batch operations by type and status (the front's counters), the front's request
charge (the local server charges 1 per request, so this is requests, not the service's RU), and
the wall time. Prints a Markdown table.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from rig import REPO, Rig  # noqa: E402

DB = "writemodes"


def preload(rig, topic, n, updates):
    rig.create_topic(topic, 6)
    env = {**os.environ, "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": rig.bootstrap, "ORDERSINK_KAFKA_TOPIC": topic}
    subprocess.run([os.path.join(REPO, "bin", "producer"), "--topic", topic, "--count", str(n), "--seed", "7",
                    "--updates", str(updates), "--bad-ratio", "0", "--customers", "1000"],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def committed(rig, group, topic):
    try:
        return rig.committed(group, topic)
    except Exception:  # e.g. NOT_COORDINATOR while the group's coordinator is being loaded
        return None


def run(rig, topic, mode, bulk, run_dir):
    u = uuid.uuid4().hex[:6]
    group, coll = f"wm-g-{u}", f"wm-{u}"
    rig.create_container(DB, coll)
    rig.reset_stats()
    env = rig.worker_env(topic, group, DB, coll)
    env.update(ORDERSINK_COSMOS_WRITE_MODE=mode, ORDERSINK_COSMOS_BULK=str(bulk), ORDERSINK_METRICS_PORT="0")
    hw = rig.high_watermarks(topic)
    t0 = time.monotonic()
    w = rig.start_worker(env, log_path=os.path.join(run_dir, f"worker-{mode}-{u}.log"))
    while committed(rig, group, topic) != hw:
        if time.monotonic() - t0 > 900 or w.poll() is not None:
            raise RuntimeError(f"{mode}: not drained (worker exit {w.poll()})")
        time.sleep(0.5)
    wall = time.monotonic() - t0
    rig.stop_worker(w)
    st = rig.stats()
    rig.cosmos_request("DELETE", f"/dbs/{DB}/colls/{coll}")
    return st, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=20000)
    ap.add_argument("--bulk", choices=("1", "0"), default="1")
    args = ap.parse_args()
    run_dir = tempfile.mkdtemp(prefix="ordersink-writemodes-")
    rows = []
    with Rig() as rig:
        rig.start(os.path.join(run_dir, "rig"))
        rig.create_database(DB)
        for mix, updates in (("mostly new (2 % updates)", 0.02), ("20 % updates", 0.2)):
            topic = f"wm-{uuid.uuid4().hex[:6]}"
            preload(rig, topic, args.orders, updates)
            msgs = sum(rig.high_watermarks(topic).values())
            for mode in ("upsert", "versioned"):
                st, wall = run(rig, topic, mode, int(args.bulk), run_dir)
                ops = st.get("ops", {})
                nops = sum(ops.values())
                rows.append((mix, mode, msgs, st["requests"], nops, st["doc_writes"], wall, ops))
                print(f"{mix} {mode}: {st['requests']} requests, ops {ops}, {wall:.1f}s", file=sys.stderr)
    print(f"\n{args.orders} orders per mix, cosmos.bulk={args.bulk}; front charge = 1 per request (local server)\n")
    print("| mix | write_mode | messages | requests/100 orders | operations/order | front charge/order "
          "| documents written | wall s | operations by type and status |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for mix, mode, msgs, req, nops, writes, wall, ops in rows:
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(ops.items()))
        print(f"| {mix} | {mode} | {msgs} | {100 * req / msgs:.2f} | {nops / msgs:.3f} | {req / msgs:.4f} "
              f"| {writes} | {wall:.1f} | {detail} |")


if __name__ == "__main__":
    main()
