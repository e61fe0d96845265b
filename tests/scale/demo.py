"""make demo-scale: a burst of orders on the rig, scaled 0 -> N -> 0 by a local autoscaler that
applies the shipped ScaledObject (keda/common/scaledobject.yaml) as KEDA + the HPA would
(tests/scale/autoscaler.py), with real bin/worker processes started and stopped (SIGTERM) as the
replica count changes. Every time in the manifest is divided by --time-factor (default 10).

At the end it verifies: every order in Cosmos exactly once, the group's committed offset = the
high watermark on every partition (lag 0, never-written partitions included), 0 replicas and
every worker exited 0 after SIGTERM. It draws lag, orders/s written and replicas over time
(docs/autoscaling.png by default) and prints the timeline; exit 1 when a check fails.
"""
import argparse
import bisect
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "tests", "reliability"))

import autoscaler  # noqa: E402
import keda_spec  # noqa: E402
from rig import WORKER_BIN, Rig  # noqa: E402

TOPIC, GROUP, DB, COLL = "orders", "ordersink", "shop", "orders"
PRODUCER = os.path.join(REPO, "bin", "producer")


def lag_flags(meta, partitions):
    """`worker lag` flags for the shipped trigger metadata (keda-check proves they give KEDA's answer)."""
    flags = ["--lag-threshold", meta["lagThreshold"], "--activation-lag-threshold",
             meta.get("activationLagThreshold", "0"), "--offset-reset-policy", meta.get("offsetResetPolicy", "latest"),
             "--max-replicas", str(partitions)]
    for k, f in (("allowIdleConsumers", "--allow-idle-consumers"),
                 ("scaleToZeroOnInvalidOffset", "--scale-to-zero-on-invalid-offset"),
                 ("limitToPartitionsWithLag", "--limit-to-partitions-with-lag"),
                 ("ensureEvenDistributionOfPartitions", "--ensure-even-distribution-of-partitions")):
        if meta.get(k) == "true":
            flags.append(f)
    return flags


class Deployment:
    """The worker 'pods': scale(n) starts workers or sends SIGTERM to the newest ones (as a
    ReplicaSet deletes the youngest pods first); they leave in the background."""

    def __init__(self, rig, env):
        self.rig, self.env = rig, env
        self.running, self.terminating, self.exits = [], [], []
        self.started = 0

    def scale(self, n):
        while len(self.running) < n:
            self.running.append(self.rig.start_worker(self.env))
            self.started += 1
        while len(self.running) > n:
            p = self.running.pop()
            p.send_signal(signal.SIGTERM)
            self.terminating.append(p)
        self.reap()

    def reap(self):
        for p in list(self.terminating):
            if p.poll() is not None:
                self.terminating.remove(p)
                self.exits.append((p.returncode, p.log_path))
        for p in self.running:
            if p.poll() is not None:
                raise RuntimeError(f"a worker exited by itself ({p.returncode}); see {p.log_path}")

    def alive(self):
        return len(self.running) + len(self.terminating)


class Produced(threading.Thread):
    """Orders in the topic (sum of high watermarks) every 0.2 s, through one client kept open: when
    the burst's first and last orders landed."""

    def __init__(self, rig, t0, total):
        super().__init__(daemon=True)
        from confluent_kafka import Consumer, TopicPartition
        self.c = Consumer({"bootstrap.servers": rig.bootstrap, "group.id": "demo-scale-watch"})
        self.tps = [TopicPartition(TOPIC, p) for p in sorted(self.c.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions)]
        self.t0, self.total = t0, total
        self.first = self.last = None
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            n = sum(self.c.get_watermark_offsets(tp, timeout=10, cached=False)[1] for tp in self.tps)
            t = time.monotonic() - self.t0
            if n > 0 and self.first is None:
                self.first = t
            if n >= self.total:
                self.last = t
                break
            time.sleep(0.2)
        self.c.close()


def keda_lag(env):
    r = subprocess.run([WORKER_BIN, "lag", *env["flags"]], env=env["env"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"worker lag: {r.stderr}")
    parts = {int(m[0]): int(m[1]) for m in re.findall(r"^partition (\d+) .* lag (-?\d+)", r.stdout, re.M)}
    total, metric = map(int, re.search(r"^total lag (-?\d+) metric (\d+)", r.stdout, re.M).groups())
    active = re.search(r"^(active|idle) replicas", r.stdout, re.M)[1] == "active"
    return parts, total, metric, active


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def verify(rig, stats, n_orders, deployment, last_parts):
    """Every order once in Cosmos, lag 0 everywhere, 0 replicas, clean exits. Returns failures."""
    import run  # tests/reliability: parallel point reads
    run.DB = DB
    failures = []
    expected = {}  # orderId -> (customerId, partition, offset); every order is produced once
    for m in rig.consume_all(TOPIC, timeout=300):
        o = json.loads(m["value"])
        expected[o["orderId"]] = (o["customerId"], m["partition"], m["offset"])
    if len(expected) != n_orders:
        failures.append(f"{len(expected)} distinct orders in the topic, produced {n_orders}")
    reader = run.CosmosReader(rig)
    got = reader.read_many(COLL, [(i, pk) for i, (pk, _, _) in expected.items()])
    missing = [i for i, d in got.items() if d is None]
    wrong = [i for i, d in got.items() if d is not None and (d.get("kafka") or {}).get("offset") != expected[i][2]]
    if missing:
        failures.append(f"{len(missing)} orders missing in Cosmos, e.g. {missing[:5]}")
    if wrong:
        failures.append(f"{len(wrong)} documents not from their order's message, e.g. {wrong[:5]}")
    if stats["doc_creates"] != len(expected):
        failures.append(f"{stats['doc_creates']} documents created for {len(expected)} orders")
    committed, hw = rig.committed(GROUP, TOPIC), rig.high_watermarks(TOPIC)
    if committed != hw:
        failures.append(f"committed {committed} != high watermarks {hw}")
    if any(v != 0 for v in last_parts.values()):
        failures.append(f"KEDA's last poll still saw lag {last_parts}")
    if deployment.alive():
        failures.append(f"{deployment.alive()} workers still running")
    bad = [(rc, log) for rc, log in deployment.exits if rc != 0]
    if bad:
        failures.append(f"{len(bad)} workers exited non-zero after SIGTERM: {bad[:3]}")
    return failures, len(expected) - len(missing), stats["doc_writes"] - len(expected)


def run(args):
    so = keda_spec.load()
    meta, f = so["metadata"], args.time_factor
    partitions = so["maxReplicaCount"]  # = the topic's partition count (docs/kubernetes.md)
    threshold = int(meta["lagThreshold"])
    poll_s, hpa_s = so["pollingInterval"] / f, autoscaler.HPA_SYNC_SECONDS / f
    run_dir = tempfile.mkdtemp(prefix="demo-scale-")
    rig = Rig().start(run_dir)
    try:
        rig.create_topic(TOPIC, partitions)
        rig.create_topic(TOPIC + ".dlq", 1)
        rig.create_database(DB)
        rig.create_container(DB, COLL)
        env = rig.worker_env(TOPIC, GROUP, DB, COLL)
        # One pod's pace against a provisioned container: 2 requests of 100 orders in flight,
        # each answered after args.cosmos_delay_ms (the front's delay) -> ~1000 orders/s a pod.
        env.update(ORDERSINK_COSMOS_MAX_IN_FLIGHT="2", ORDERSINK_COSMOS_ADAPTIVE_CONCURRENCY="0")
        # A group member notices a rebalance at its next heartbeat (librdkafka: every 3 s): that
        # wait is divided by the time factor too, or each scale step would stall the group for a
        # share of the demo f times larger than in production.
        env["ORDERSINK_LIBRDKAFKA_HEARTBEAT_INTERVAL_MS"] = str(max(100, int(3000 / f)))
        rig.set_faults(delay_ms=args.cosmos_delay_ms)
        lag_env = {"flags": lag_flags(meta, partitions),
                   "env": {**{k: v for k, v in os.environ.items() if not k.startswith("ORDERSINK_")},
                           "ORDERSINK_CONFIG": "", "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": rig.bootstrap,
                           "ORDERSINK_KAFKA_TOPIC": TOPIC, "ORDERSINK_KAFKA_GROUP_ID": GROUP}}
        dep = Deployment(rig, env)
        keda = autoscaler.Keda(so["cooldownPeriod"], f, so["minReplicaCount"])
        hpa = autoscaler.Hpa(so["behavior"], threshold, so["maxReplicaCount"], f)
        rig.reset_stats()
        print(f"demo-scale: {args.orders} orders into {partitions} partitions; KEDA polls every {poll_s:g} s, "
              f"cooldown {so['cooldownPeriod'] / f:g} s, HPA every {hpa_s:g} s (time factor {f:g})", flush=True)
        t0 = time.monotonic()
        produced = Produced(rig, t0, args.orders)
        produced.start()
        samples, events = [], []  # samples: (t, lag, writes_total, replicas)
        producer = tail = None
        # The HPA syncs on its own clock: half a period after KEDA's polls.
        next_poll, next_hpa = t0 + 0.5, t0 + 0.5 + hpa_s / 2
        replicas, active, total, parts = 0, False, 0, {}
        quiet_until = None
        while True:
            now = time.monotonic()
            t = now - t0
            if tail is None and producer is not None and producer.poll() is not None and args.tail_rate > 0:
                tail = subprocess.Popen(  # other ids than the burst's (the seed is in every orderId)
                    [PRODUCER, "--topic", TOPIC, "--rate", str(args.tail_rate), "--duration", str(args.tail_seconds),
                     "--seed", "2"], env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                    stderr=open(os.path.join(run_dir, "producer-tail.log"), "w"))
                events.append((t, f"steady {args.tail_rate} orders/s for {args.tail_seconds:g} s"))
            if producer is None and t >= args.quiet_before:
                producer = subprocess.Popen(
                    [PRODUCER, "--topic", TOPIC, "--count", str(args.orders), "--seed", "1"],
                    env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=open(os.path.join(run_dir, "producer.log"), "w"))
                events.append((t, "producer started"))
            if now >= next_poll or now >= next_hpa:
                parts, total, metric, active = keda_lag(lag_env)
            if now >= next_poll:
                next_poll += poll_s
                new = keda.step(t, replicas, active)
                if new != replicas:
                    events.append((t, f"KEDA {replicas} -> {new}"))
                    replicas = new
            if now >= next_hpa:
                next_hpa += hpa_s
                new = hpa.step(t, replicas, metric)
                if new != replicas:
                    events.append((t, f"HPA {replicas} -> {new}"))
                    replicas = new
            dep.scale(replicas)
            samples.append((t, total, rig.stats()["doc_writes"], replicas, dep.alive()))
            producing = producer is None or producer.poll() is None or \
                (args.tail_rate > 0 and (tail is None or tail.poll() is None))
            if not producing and replicas == 0 and total == 0 and dep.alive() == 0:
                quiet_until = quiet_until or now + args.quiet_after
                if now >= quiet_until:
                    break
            if t > args.timeout:
                raise TimeoutError(f"not back to 0 within {args.timeout} s (replicas {replicas}, lag {total})")
            time.sleep(max(0.0, min(next_poll, next_hpa, now + 0.5) - time.monotonic()))
        if producer.returncode != 0 or (tail is not None and tail.returncode != 0):
            raise RuntimeError(f"producer failed; see {run_dir}/producer*.log")
        produced.join(30)
        events += [(produced.first, "first order in the topic"), (produced.last, "last order of the burst in the topic")]
        events.sort()
        rig.reset_faults()
        stats = rig.stats()
        n_orders = sum(rig.high_watermarks(TOPIC).values())
        failures, distinct, redelivered = verify(rig, stats, n_orders, dep, parts)
        return samples, events, failures, dict(orders=n_orders, burst=args.orders, distinct=distinct, redelivered=redelivered,
                                               workers_started=dep.started, partitions=partitions, factor=f,
                                               threshold=threshold, run_dir=run_dir, so=so)
    finally:
        rig.stop()


def timeline(samples, events):
    """Burst, activation (KEDA 0 -> 1), peak replicas, drained (lag back to 0), back to 0 replicas."""
    burst = next(t for t, e in events if e == "first order in the topic")
    burst_end = next(t for t, e in events if e.startswith("last order"))
    act = next(t for t, e in events if e.startswith("KEDA 0 ->"))
    peak = max(s[3] for s in samples)
    t_peak = next(s[0] for s in samples if s[3] == peak)
    had_lag = [s for s in samples if s[1] > 0]
    drained = next(s[0] for s in samples if s[0] > had_lag[-1][0]) if had_lag else act
    zero = next(t for t, e in events if e.startswith("KEDA") and e.endswith("-> 0"))
    return dict(burst=burst, burst_end=burst_end, activated=act, peak=peak, peak_at=t_peak, drained=drained, zero=zero,
                max_lag=max(s[1] for s in samples))


def plot(samples, events, tl, info, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = [s[0] for s in samples]
    rate = []  # documents written per second over the last second (samples are irregular)
    for i, (ti, _, wi, _, _) in enumerate(samples):
        j = max(0, bisect.bisect_right(t, ti - 1.0) - 1)
        rate.append((wi - samples[j][2]) / (ti - samples[j][0]) if ti > samples[j][0] else 0.0)
    fig, ax = plt.subplots(3, 1, figsize=(8, 6.4), sharex=True, dpi=80)
    ax[0].plot(t, [s[1] for s in samples], color="tab:red", lw=1.5)
    ax[0].set_ylabel("lag (orders)")
    tail = f" + {info['orders'] - info['burst']:,} steady" if info["orders"] > info["burst"] else ""
    ax[0].set_title(f"{info['burst']:,} orders at once{tail} on {info['partitions']} partitions; "
                    f"shipped ScaledObject, times / {info['factor']:g}", fontsize=10)
    ax[1].plot(t, rate, color="tab:blue", lw=1)
    ax[1].set_ylabel("orders/s written")
    ax[2].step(t, [s[3] for s in samples], where="post", color="tab:green", lw=1.5, label="replicas (KEDA + HPA)")
    ax[2].step(t, [s[4] for s in samples], where="post", color="tab:gray", lw=1, ls="--",
               label="worker processes (incl. terminating)")
    ax[2].set_ylabel("replicas")
    ax[2].set_xlabel(f"seconds (x{info['factor']:g} = the shipped timings with a {info['factor']:g}x larger burst "
                     "at the same per-pod pace)")
    ax[2].legend(loc="upper right", fontsize=8)
    for a in ax:
        a.grid(alpha=0.3)
        for x, label, c in ((tl["burst"], "burst", "tab:red"),
                            (tl["activated"], "KEDA activates (0 -> 1)", "tab:orange"),
                            (tl["drained"], "lag 0", "tab:purple"),
                            (tl["zero"], "KEDA back to 0", "black")):
            a.axvline(x, color=c, ls=":", lw=1.2, label=label if a is ax[0] else None)
    ax[0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=100000)
    ap.add_argument("--time-factor", type=float, default=10.0)
    ap.add_argument("--cosmos-delay-ms", type=int, default=200)
    ap.add_argument("--tail-rate", type=int, default=0, help="after the burst, this many orders/s ...")
    ap.add_argument("--tail-seconds", type=float, default=0, help="... for this long (scale-down under load)")
    ap.add_argument("--quiet-before", type=float, default=3.0, help="seconds of idle topic before the burst")
    ap.add_argument("--quiet-after", type=float, default=3.0, help="seconds watched after the return to 0")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--png", default=os.path.join(REPO, "docs", "autoscaling.png"))
    args = ap.parse_args()
    samples, events, failures, info = run(args)
    tl = timeline(samples, events)
    with open(os.path.join(REPO, "build", "demo-scale.json"), "w") as f:  # to re-plot or compare runs
        json.dump({"samples": samples, "events": events, "timeline": tl,
                   "info": {k: v for k, v in info.items() if k != "so"}}, f)
    plot(samples, events, tl, info, args.png)
    f = info["factor"]
    print("\nevents:")
    for t, e in events:
        print(f"  {t:6.1f} s  {e}")
    print(f"\ntimeline (demo seconds; x{f:g} = the shipped timings with a {f:g}x larger burst):\n"
          f"  burst: first order at {tl['burst']:.1f} s, all {info['burst']} in the topic at {tl['burst_end']:.1f} s; "
          f"max lag seen {tl['max_lag']}\n"
          f"  activation delay (burst -> KEDA 0 -> 1): {tl['activated'] - tl['burst']:.1f} s\n"
          f"  peak replicas: {tl['peak']} at {tl['peak_at'] - tl['burst']:.1f} s after the burst\n"
          f"  time to drain (burst -> lag 0): {tl['drained'] - tl['burst']:.1f} s\n"
          f"  time back to 0 (lag 0 -> 0 replicas): {tl['zero'] - tl['drained']:.1f} s\n"
          f"  workers started {info['workers_started']}, orders {info['orders']}, in Cosmos {info['distinct']}, "
          f"redelivered writes {info['redelivered']}\n  picture: {args.png} ({os.path.getsize(args.png) // 1024} KB)")
    if failures:
        print("\ndemo-scale: FAILED\n  " + "\n  ".join(failures))
        print(f"logs: {info['run_dir']}")
        return 1
    print("\ndemo-scale: OK (0 -> N -> 0, every order in Cosmos once, lag 0 on every partition)")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
