#!/usr/bin/env python3
"""Fault-injection reliability suite for ordersink: at-least-once, no lost order, no duplicate document,
whatever breaks.

    .cache/venv/bin/python tests/reliability/run.py [--orders N] [--quick] [--only NAME[,NAME]] [--run-dir DIR]

Each scenario: its own topic (6 partitions) + DLQ topic + Cosmos container, N orders streamed by bin/producer
(--seed, --updates 0.05) plus a known set of malformed messages produced here, a fault, then a verification
that does not trust the worker's counters:
  * the whole topic is read back: expected content per orderId = the version at the highest offset
    (the producer keys by customerId, so all versions of an order share a partition);
  * every valid order is in Cosmos exactly once, with the content (and kafka.offset) of its latest version;
    count(docs) == distinct ids (a duplicate would be the same id under another partition key);
  * committed offsets == high watermarks on every partition;
  * the DLQ holds exactly the malformed messages (by ordersink.partition/offset headers and value);
    DLQ duplicates are reported, not failed (at-least-once allows them after kill -9).
Redeliveries = document writes answered 200/201 by the rig's Cosmos front - valid messages
(the worker coalesces versions of one order within a batch, so this can be negative).
A scenario also fails when it could pass without testing anything: the producer failed or the topic
holds < 99 % of the requested orders; a worker died by a signal the suite did not send; the fault
touched no traffic (no 429, no delayed write, no retry, no revocation...); fewer than half the kill -9s
or SIGTERMs hit a worker with batches in flight (its /metrics, read just before); slow-sink's peak
VmHWM is over the bound, its backlog being at least 1.5x the bound (docs/testing-guarantees.md).

Scenarios: kill9, cosmos-down, throttle, slow-sink, broker-restart, rescale-range, rescale-coop,
rescale-consumer (or "rescale" for the three: classic range, classic cooperative-sticky, KIP-848
consumer protocol), sigterm, netcut, split, zombie (a worker frozen with SIGSTOP while another
takes over, then resumed: no document may end older than its newest version, no committed offset
may go backwards; --write-mode upsert shows the failure versioned writes prevent). Exit code 1 if
any scenario fails; the last line is
"N passed, M failed".
"""
import argparse
import atexit
import collections
import concurrent.futures
import email.utils
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid

import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, HERE)
from rig import Rig, cosmos_auth, resource_of  # noqa: E402
from helpers import free_port, metrics as scrape_metrics  # noqa: E402
from tcpproxy import BlackholeProxy  # noqa: E402

DB = "reliability"
PARTITIONS = 6
SHUTDOWN_TIMEOUT_MS = 10000
SYSTEM_FIELDS = {"id", "kafka", "_rid", "_self", "_etag", "_attachments", "_ts"}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False


def hwm_mb(pid):
    """Peak resident memory of a live process (VmHWM: the kernel's high-water mark, so a spike
    between two samples is not missed)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


# ---------------------------------------------------------------- sizes
def plan(args):
    """Per-mode sizes. Fault durations are the brief's in full mode, shortened in --quick.
    slow-sink: its backlog (slow_orders x slow_size bytes) is 1.5-2x rss_bound_mb, so a worker that
    buffered it all would break the bound in either mode; in --quick with batch.max_bytes 1 MB
    (queue 8 MB + 9 batches of 1 MB, each also held as documents, + the process's ~40 MB)."""
    if args.quick:
        return dict(orders=args.orders or 3000, kills=8, kill_gap=(0.5, 2.5), refuse_s=10, storm_s=15,
                    slow_s=12, cut_s=12, sigterms=3, broker_down_s=2, stream_s=15, rescale_s=24,
                    slow_orders=1200, slow_size=131072, slow_batch_bytes=1 << 20, rss_bound_mb=100)
    return dict(orders=args.orders or 100000, kills=20, kill_gap=(1.0, 5.0), refuse_s=30, storm_s=60,
                slow_s=60, cut_s=20, sigterms=5, broker_down_s=5, stream_s=45, rescale_s=60,
                slow_orders=100000, slow_size=4096, slow_batch_bytes=4 << 20, rss_bound_mb=200)


# ---------------------------------------------------------------- Cosmos reads (parallel, direct to backend)
class CosmosReader:
    def __init__(self, rig, threads=8):
        self.env = rig.env
        self.local = threading.local()
        self.pool = concurrent.futures.ThreadPoolExecutor(threads)

    def _session(self):
        s = getattr(self.local, "s", None)
        if s is None:
            s = requests.Session()
            s.trust_env = False
            s.verify = self.env["COSMOS_CA_FILE"]
            self.local.s = s
        return s

    def request(self, method, path, body=None, headers=None, timeout=60):
        date = email.utils.formatdate(usegmt=True)
        rtype, link = resource_of(path)
        h = {"x-ms-date": date, "x-ms-version": "2018-12-31", "accept": "application/json",
             "authorization": cosmos_auth(self.env["COSMOS_KEY"], method, rtype, link, date)}
        h.update(headers or {})
        if body is not None and "content-type" not in h:
            h["content-type"] = "application/json"
        for attempt in range(5):
            try:
                return self._session().request(method, self.env["COSMOS_DIRECT_ENDPOINT"] + path, data=body,
                                               headers=h, timeout=timeout)
            except requests.ConnectionError:
                if attempt == 4:
                    raise
                time.sleep(0.5)

    def read(self, coll, doc_id, pk):
        r = self.request("GET", f"/dbs/{DB}/colls/{coll}/docs/{urllib.parse.quote(doc_id, safe='')}",
                         headers={"x-ms-documentdb-partitionkey": json.dumps([pk]),
                                  "x-ms-documentdb-query-enablecrosspartition": "True"})
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise RuntimeError(f"read {doc_id}: {r.status_code} {r.text[:200]}")
        return r.json()

    def read_many(self, coll, pairs):
        """{id: doc or None} for [(id, pk)], in parallel."""
        pairs = list(pairs)
        docs = self.pool.map(lambda ip: self.read(coll, *ip), pairs, chunksize=64)
        return {i: d for (i, _), d in zip(pairs, docs)}

    def delete_container(self, coll):
        self.request("DELETE", f"/dbs/{DB}/colls/{coll}")


# ---------------------------------------------------------------- workers under a supervisor
class Slot:
    """One worker 'pod': restarted after a non-zero exit (as Kubernetes would, with a short backoff)
    or after we SIGKILL it; stop() sends SIGTERM and does not restart."""

    def __init__(self, ctx, env, name):
        self.ctx, self.env, self.name = ctx, env, name
        self.proc = None
        self.starts = 0
        self.restarts = 0  # after an unexpected exit
        self.kills = 0
        self.exits = []  # return codes of unexpected exits
        self.stopping = False
        self._killed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"slot-{name}")
        self._thread.start()
        deadline = time.monotonic() + 10
        while self.proc is None and time.monotonic() < deadline:
            time.sleep(0.01)

    def _spawn(self):
        log_path = os.path.join(self.ctx.scen_dir, f"worker-{self.name}-{self.starts}.log")
        p = self.ctx.rig.start_worker(self.env, log_path=log_path, binary=self.ctx.worker_bin)
        self.starts += 1
        self.ctx.worker_starts += 1
        return p

    def _run(self):
        backoff = 1.0
        while True:
            with self._lock:
                if self.stopping:
                    return
                self.proc = self._spawn()
            p = self.proc
            rc = p.wait()
            if p in self.ctx.rig.workers:
                self.ctx.rig.workers.remove(p)
            with self._lock:
                if self.stopping:
                    return
                killed, self._killed = self._killed, False
            if killed:
                time.sleep(0.2)
                continue
            self.exits.append(rc)
            self.restarts += 1
            log(f"  worker {self.name} exited {rc} (see {p.log_path}); restart in {backoff:.0f}s")
            time.sleep(backoff)
            backoff = min(backoff * 2, 8.0)

    def kill9(self):
        with self._lock:
            p = self.proc
            if p is None or p.poll() is not None:
                return False
            self._killed = True
            p.send_signal(signal.SIGKILL)
            self.kills += 1
            return True

    def stop(self, sig=signal.SIGTERM, timeout=SHUTDOWN_TIMEOUT_MS / 1000 + 10):
        """Returns (return code, seconds to exit)."""
        with self._lock:
            self.stopping = True
            p = self.proc
        t0 = time.monotonic()
        rc = None
        if p is not None:
            if p.poll() is None:
                p.send_signal(sig)
            try:
                rc = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rc = "timeout"
            if p in self.ctx.rig.workers:
                self.ctx.rig.workers.remove(p)
        self._thread.join(15)
        return rc, time.monotonic() - t0


class RssSampler:
    def __init__(self, ctx, period=0.5):
        self.ctx, self.period, self.peak = ctx, period, 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            for p in list(self.ctx.rig.workers):
                v = hwm_mb(p.pid)
                if v is not None and v > self.peak:
                    self.peak = v
            self._stop.wait(self.period)

    def stop(self):
        self._stop.set()
        self._t.join(5)
        return self.peak


# ---------------------------------------------------------------- context
BAD_KINDS = [
    lambda i: b"not json %d" % i,
    lambda i: b'{"orderId": "trunc-%d", "customerId": ' % i,
    lambda i: b"[%d, 2, 3]" % i,
    lambda i: b'{"customerId": "c1", "n": %d}' % i,
    lambda i: b'{"orderId": "b/ad-%d", "customerId": "c1"}' % i,
    lambda i: b'{"orderId": "nopk-%d"}' % i,
    lambda i: b'{"orderId": "objpk-%d", "customerId": {"a": %d}}' % (i, i),
    lambda i: b'{"orderId": "\xff\xfe%d", "customerId": "c1"}' % i,
]


class Ctx:
    def __init__(self, args):
        self.args = args
        self.sizes = plan(args)
        self.run_dir = os.path.abspath(args.run_dir or tempfile.mkdtemp(prefix="ordersink-reliability-"))
        os.makedirs(self.run_dir, exist_ok=True)
        # Private copies of the binaries: other engineers rebuild bin/ while the suite runs.
        os.makedirs(os.path.join(self.run_dir, "bin"), exist_ok=True)
        self.worker_bin = os.path.join(self.run_dir, "bin", "worker")
        self.producer_bin = os.path.join(self.run_dir, "bin", "producer")
        shutil.copy2(args.worker, self.worker_bin)
        shutil.copy2(args.producer, self.producer_bin)
        self.rig = Rig()
        self.procs = []  # producers, restarted brokers: killed at cleanup
        self.slots = []
        self.proxies = []
        self.scen_dir = self.run_dir
        self.worker_starts = 0
        self.writes_source = set()

    def start(self):
        t0 = time.monotonic()
        self.rig.start(os.path.join(self.run_dir, "rig"))
        self.reader = CosmosReader(self.rig)
        self.rig.create_database(DB)
        log(f"rig up in {time.monotonic() - t0:.1f}s at {self.rig.run_dir}")

    def cleanup(self):
        if getattr(self, "_cleaned", False):
            return
        self._cleaned = True
        for s in list(self.slots):
            try:
                s.stop(signal.SIGKILL, timeout=5)
            except Exception:
                pass
        self.slots.clear()
        for x in self.proxies:
            x.stop()
        self.proxies.clear()
        self.rig.stop()  # before self.procs: it stops the (possibly restarted) broker recorded in kafka.pid
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()

    # ---------- per scenario ----------
    def new_pipeline(self, name, partitions=PARTITIONS):
        u = uuid.uuid4().hex[:6]
        topic, group, coll = f"rel-{name}-{u}", f"rel-{name}-g-{u}", f"rel-{name}-{u}"
        self.rig.create_topic(topic, partitions)
        self.rig.create_topic(topic + ".dlq", 1)
        self.rig.create_container(DB, coll)
        self.scen_dir = os.path.join(self.run_dir, name)
        os.makedirs(self.scen_dir, exist_ok=True)
        self.worker_starts = 0
        self.rig.reset_faults()
        self.rig.reset_stats()
        return topic, group, coll

    def worker_env(self, topic, group, coll, **extra):
        env = self.rig.worker_env(topic, group, DB, coll)
        env.update({"ORDERSINK_METRICS_PORT": "0", "ORDERSINK_LOG_STATS_INTERVAL_MS": "1000",
                    "ORDERSINK_SHUTDOWN_TIMEOUT_MS": str(SHUTDOWN_TIMEOUT_MS)})
        if self.args.bulk != "default":
            env["ORDERSINK_COSMOS_BULK"] = self.args.bulk
        if self.args.write_mode != "default":
            env["ORDERSINK_COSMOS_WRITE_MODE"] = self.args.write_mode
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def slot(self, env, name):
        s = Slot(self, env, name)
        self.slots.append(s)
        return s

    def stop_slot(self, s, sig=signal.SIGTERM):
        rc = s.stop(sig)
        if s in self.slots:
            self.slots.remove(s)
        return rc

    def start_producer(self, topic, count, rate=0, seed=1, size=0):
        args = [self.producer_bin, "--topic", topic, "--count", str(count), "--seed", str(seed),
                "--updates", "0.05", "--bad-ratio", "0", "--customers", "1000"]
        if rate:
            args += ["--rate", str(int(rate))]
        if size:
            args += ["--size", str(size)]
        env = {**os.environ, "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": self.rig.bootstrap, "ORDERSINK_KAFKA_TOPIC": topic}
        out = open(os.path.join(self.scen_dir, "producer.log"), "ab")
        p = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self.procs.append(p)
        return p

    def inject_bad(self, topic, n, seconds):
        """Produces n unique malformed messages spread over `seconds` in a thread; returns (thread, values)."""
        values = [BAD_KINDS[i % len(BAD_KINDS)](i) + (b" #%s" % uuid.uuid4().hex[:8].encode()
                                                       if i % len(BAD_KINDS) in (0,) else b"") for i in range(n)]
        # values must be unique and stay malformed: only "not json" gets a suffix, the others carry i already
        assert len(set(values)) == n

        def run():
            p = Producer({"bootstrap.servers": self.rig.bootstrap, "acks": "all", "enable.idempotence": True,
                          "linger.ms": 5, "message.timeout.ms": 300000})
            for i, v in enumerate(values):
                p.produce(topic, value=v, key=b"bad-%d" % i)
                p.poll(0)
                time.sleep(seconds / max(n, 1))
            left = p.flush(300)
            if left:
                log(f"  WARNING: {left} bad messages not delivered")

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, set(values)

    def wait_drained(self, topic, group, producer, extra_threads=(), timeout=600):
        deadline = time.monotonic() + timeout
        while producer.poll() is None or any(t.is_alive() for t in extra_threads):
            if time.monotonic() > deadline:
                raise AssertionError("producer did not finish")
            time.sleep(0.5)
        last = None
        while time.monotonic() < deadline:
            hw = self.rig.high_watermarks(topic)
            committed = self.rig.committed(group, topic)
            if all(committed.get(p) == h for p, h in hw.items()):
                return True
            last = (committed, hw)
            time.sleep(1)
        log(f"  NOT DRAINED in {timeout}s: committed={last[0]} high={last[1]}")
        return False


# ---------------------------------------------------------------- verification
def expected_from_topic(rig, topic, bad_values):
    msgs = rig.consume_all(topic, timeout=300)
    latest = {}  # orderId -> msg dict with parsed "obj"
    bad = {}  # (partition, offset) -> value
    problems = []
    valid = 0
    for m in msgs:
        v = m["value"]
        if v in bad_values:
            bad[(m["partition"], m["offset"])] = v
            continue
        try:
            obj = json.loads(v)
            oid = obj["orderId"]
            pk = obj["customerId"]
        except Exception as e:  # the producer runs with --bad-ratio 0
            problems.append(f"unexpected malformed message at {m['partition']}/{m['offset']}: {e}")
            continue
        valid += 1
        prev = latest.get(oid)
        if prev is not None and prev["partition"] != m["partition"]:
            problems.append(f"order {oid} in partitions {prev['partition']} and {m['partition']}")
        if prev is None or m["offset"] > prev["offset"]:
            latest[oid] = {"partition": m["partition"], "offset": m["offset"], "obj": obj, "pk": pk}
    return msgs, latest, bad, valid, problems


def last_progress_sum(ctx, field):
    """Sum over this scenario's worker logs of `field` in each log's last progress line (the worker logs
    one at shutdown; after kill -9 the last periodic one, so an undercount)."""
    total = 0
    for f in os.listdir(ctx.scen_dir):
        if f.startswith("worker-") and f.endswith(".log"):
            last = None
            for line in open(os.path.join(ctx.scen_dir, f), errors="replace"):
                if '"progress"' in line:
                    try:
                        last = json.loads(line)
                    except ValueError:
                        pass
            total += int((last or {}).get(field, 0))
    return total


def log_time(ts):
    return time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone + float("0" + ts[19:-1])


def unowned_partition_seconds(scen_dir):
    """Rebalance cost from the worker logs: for every partition, the seconds between a worker's
    'partitions revoked' naming it and the next 'partitions assigned' naming it (any worker), summed
    (revocations with no later assignment, i.e. the final shutdown, are left out). An eager rebalance
    (classic range) takes every partition from every member; an incremental one only those that move."""
    events = []
    for f in os.listdir(scen_dir):
        if f.startswith("worker-") and f.endswith(".log"):
            for line in open(os.path.join(scen_dir, f), errors="replace"):
                if '"partitions revoked"' not in line and '"partitions assigned"' not in line:
                    continue
                try:
                    l = json.loads(line)
                except ValueError:
                    continue
                parts = [int(x) for x in str(l.get("partitions", "")).split(",") if x]
                events.append((log_time(l["ts"]), l["msg"] == "partitions assigned", parts))
    events.sort()
    lost_at, total = {}, 0.0
    for t, assigned, parts in events:
        for q in parts:
            if assigned and q in lost_at:
                total += t - lost_at.pop(q)
            elif not assigned:
                lost_at.setdefault(q, t)
    return total


def count_writes(ctx, stats):
    """Documents written, with where the number comes from. The front counts one 200/201 per request: exact
    per document only with ORDERSINK_COSMOS_BULK=0 (or a front that counts batch operations, "doc_writes").
    In bulk mode: the sum of the worker logs' last `written` (an undercount after kill -9)."""
    if "doc_writes" in stats:
        return int(stats["doc_writes"]), "front"
    bs = stats.get("by_status", {})
    if ctx.args.bulk == "0":
        return int(bs.get("200", 0)) + int(bs.get("201", 0)) - ctx.worker_starts, "front"
    return last_progress_sum(ctx, "written"), "worker logs (bulk mode: the front counts batch requests, not documents)"


def doc_matches(doc, want, topic):
    body = {k: v for k, v in doc.items() if k not in SYSTEM_FIELDS}
    k = doc.get("kafka") or {}
    return (body == want["obj"] and doc.get("id") == str(want["obj"]["orderId"]) and k.get("topic") == topic
            and k.get("partition") == want["partition"] and k.get("offset") == want["offset"])


def verify(ctx, name, topic, group, coll, bad_values, t0, notes, failures, extra_cols=None):
    rig, reader = ctx.rig, ctx.reader
    stats = rig.stats()
    msgs, latest, bad, valid, problems = expected_from_topic(rig, topic, bad_values)
    failures += problems
    # --- Cosmos: every order once, with its latest content
    n = len(latest)
    if n <= 12000:
        docs = rig.query(DB, coll, "SELECT * FROM c")
        count = len(docs)
        by_id = collections.defaultdict(list)
        for d in docs:
            by_id[d["id"]].append(d)
        distinct = len(by_id)
        dup_docs = count - distinct
        missing = [i for i in latest if str(i) not in by_id]
        stale = [i for i in latest if str(i) in by_id and not any(doc_matches(d, latest[i], topic) for d in by_id[str(i)])]
        unexpected = [i for i in by_id if i not in {str(x) for x in latest}]
    else:  # large: point reads in parallel + the front's count of created documents
        got = reader.read_many(coll, [(str(i), w["pk"]) for i, w in latest.items()])
        missing = [i for i in latest if got[str(i)] is None]
        stale = [i for i in latest if got[str(i)] is not None and not doc_matches(got[str(i)], latest[i], topic)]
        distinct = n - len(missing)
        # The local server's queries scan every document (10k docs ~0.1 s, 20k ~10 s): count the
        # documents as the front saw them created (201) instead; only the worker writes here.
        count = int(stats["doc_creates"])
        notes.append("documents counted from the front's creates (201)")
        dup_docs = count - distinct  # a duplicate or a document nobody produced
        unexpected = []
    if missing:
        failures.append(f"{len(missing)} orders missing in Cosmos, e.g. {missing[:5]}")
    if stale:
        failures.append(f"{len(stale)} orders not at their latest version, e.g. {stale[:5]}")
    if dup_docs:
        failures.append(f"{dup_docs} duplicate documents (count {count} vs distinct ids {distinct})")
    if unexpected:
        failures.append(f"{len(unexpected)} documents with ids never produced, e.g. {unexpected[:5]}")
    # --- offsets
    committed = rig.committed(group, topic)
    hw = rig.high_watermarks(topic)
    if committed != hw:
        failures.append(f"committed {committed} != high watermarks {hw}")
    # --- DLQ
    dlq = rig.consume_all(topic + ".dlq", timeout=120)
    seen = collections.Counter()
    wrong = 0
    for m in dlq:
        h = {k: v.decode(errors="replace") for k, v in m["headers"]}
        try:
            pos = (int(h["ordersink.partition"]), int(h["ordersink.offset"]))
        except (KeyError, ValueError):
            wrong += 1
            continue
        if h.get("ordersink.topic") != topic or bad.get(pos) != m["value"]:
            wrong += 1
            continue
        seen[pos] += 1
    dlq_missing = set(bad) - set(seen)
    dlq_dups = sum(c - 1 for c in seen.values())
    if dlq_missing:
        failures.append(f"{len(dlq_missing)} malformed messages not in the DLQ, e.g. {sorted(dlq_missing)[:5]}")
    if wrong:
        failures.append(f"{wrong} DLQ messages that are not one of the injected malformed messages")
    if dlq_dups:
        notes.append(f"{dlq_dups} DLQ duplicates (redelivered dead letters)")
    # --- writes: 200/201 answers of the front minus the start-up container reads (one GET per worker start)
    writes, src = count_writes(ctx, stats)
    ctx.writes_source.add(src)
    row = dict(scenario=name, produced=len(msgs), valid=valid, orders=n, docs=count, distinct=distinct,
               missing=len(missing) + len(stale), dups=dup_docs, writes=writes, redeliv=writes - valid,
               reread=last_progress_sum(ctx, "consumed") - len(msgs),
               unowned=unowned_partition_seconds(ctx.scen_dir),
               dlq=f"{len(seen)}/{len(bad)}+{dlq_dups}", wall=time.monotonic() - t0)
    row.update(extra_cols or {})
    reader.delete_container(coll)  # the local server keeps everything in memory
    return row


# ---------------------------------------------------------------- scenarios
def scenario(fn):
    SCENARIOS[fn.__name__[2:].replace("_", "-")] = fn
    return fn


SCENARIOS = {}


def stream(ctx, topic, n, seconds, rate=None, size=0):
    """Starts the producer (n orders over ~seconds) and the malformed-message injector."""
    rate = rate if rate is not None else max(1, int(n / seconds))
    ctx.requested = n
    prod = ctx.start_producer(topic, n, rate=rate, seed=random.randrange(1 << 30), size=size)
    nbad = max(16, min(200, n // 500))
    bad_t, bad_values = ctx.inject_bad(topic, nbad, seconds if rate else 5)
    return prod, bad_t, bad_values


def finish(ctx, name, topic, group, coll, slots, prod, bad_t, bad_values, t0, notes, failures, drain_timeout,
           extra=None, rss=None):
    drained = ctx.wait_drained(topic, group, prod, [bad_t], timeout=drain_timeout)
    if not drained:
        failures.append("not drained (committed != high watermark) before the timeout")
    # A broken producer would make every check pass on a handful of orders.
    if prod.returncode != 0:
        failures.append(f"producer exited {prod.returncode} (see {ctx.scen_dir}/producer.log)")
    restarts = sum(s.restarts for s in slots)
    exits = [rc for s in slots for rc in s.exits]
    signalled = [rc for rc in exits if rc < 0]
    if signalled:  # the supervisor restarts it, but a crash is a crash
        failures.append(f"worker killed by signals the suite did not send: {sorted(-rc for rc in signalled)}")
    for s in slots:
        rc, secs = ctx.stop_slot(s)
        if rc != 0:
            notes.append(f"final SIGTERM of {s.name}: exit {rc} after {secs:.1f}s")
    peak = rss.stop() if rss else None
    extra = dict(extra or {})
    extra.setdefault("restarts", restarts)
    if exits:
        notes.append(f"unexpected worker exits {collections.Counter(exits).most_common()} (restarted)")
    if peak is not None:
        extra["rss"] = peak
    row = verify(ctx, name, topic, group, coll, bad_values, t0, notes, failures, extra)
    if row["valid"] < 0.99 * ctx.requested:
        failures.append(f"only {row['valid']} valid orders in the topic, {ctx.requested} requested (< 99 %)")
    return row


def worker_logs(ctx):
    """Every JSON line of every worker log of the current scenario."""
    for f in sorted(os.listdir(ctx.scen_dir)):
        if f.startswith("worker-") and f.endswith(".log"):
            for line in open(os.path.join(ctx.scen_dir, f), errors="replace"):
                try:
                    yield json.loads(line)
                except ValueError:
                    pass


def require_touched(failures, what, count):
    """A fault that touched no traffic tested nothing: fail the scenario."""
    if not count:
        failures.append(f"the fault touched no traffic: {what} = {count}")


def cosmos_failures_seen(ctx, slots):
    """Worker retries of Cosmos writes (progress lines) plus exits 1 (retries exhausted)."""
    retries = max((l.get("cosmos_retries", 0) for l in worker_logs(ctx) if l.get("msg") == "progress"), default=0)
    return retries + sum(rc == 1 for s in slots for rc in s.exits)


def in_flight_now(port):
    """Batches the worker is writing right now, from its /metrics (0 when it does not answer)."""
    return int(scrape_metrics(port).get("ordersink_batches_in_flight", 0))


def wait_in_flight(port, timeout=10):
    """Waits up to timeout for the worker to have a batch in flight; returns how many it has."""
    deadline = time.monotonic() + timeout
    while (n := in_flight_now(port)) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    return n


@scenario
def s_kill9(ctx, notes, failures):
    S, t0 = ctx.sizes, time.monotonic()
    topic, group, coll = ctx.new_pipeline("kill9")
    # Static membership (group.instance.id): the restarted worker takes its partitions back at once
    # instead of after a session timeout, so kills land on work rather than on group joins.
    # Writes take 20-50 ms (as a real Cosmos does; the local one answers in ~1 ms), and each
    # kill waits up to 10 s for a batch in flight (read from /metrics just before the kill).
    port = free_port()
    env = ctx.worker_env(topic, group, coll, ORDERSINK_KAFKA_SESSION_TIMEOUT_MS=6000, ORDERSINK_METRICS_PORT=port,
                         ORDERSINK_LIBRDKAFKA_GROUP_INSTANCE_ID=f"{group}-w")
    ctx.rig.set_faults(delay_ms=20, delay_jitter_ms=30)
    span = S["kills"] * (sum(S["kill_gap"]) / 2 + 3)
    prod, bad_t, bad_values = stream(ctx, topic, S["orders"], span)
    rss = RssSampler(ctx)
    w = ctx.slot(env, "w")
    hits = 0
    for k in range(S["kills"]):
        time.sleep(random.uniform(*S["kill_gap"]))
        n = wait_in_flight(port)
        if w.kill9():
            hits += n >= 1
    ctx.rig.reset_faults()
    notes.append(f"{w.kills} kill -9, {hits} with batches in flight (static membership, session.timeout.ms=6000)")
    if hits * 2 < S["kills"]:
        failures.append(f"only {hits} of {S['kills']} kills hit a worker with batches in flight")
    return finish(ctx, "kill9", topic, group, coll, [w], prod, bad_t, bad_values, t0, notes, failures,
                  drain_timeout=900, rss=rss, extra={"kills": w.kills})


@scenario
def s_cosmos_down(ctx, notes, failures):
    S, t0 = ctx.sizes, time.monotonic()
    topic, group, coll = ctx.new_pipeline("cosmos-down")
    env = ctx.worker_env(topic, group, coll)  # default retry.max_attempts (12): exits 1, supervisor restarts
    prod, bad_t, bad_values = stream(ctx, topic, S["orders"], S["refuse_s"] + 20)
    rss = RssSampler(ctx)
    w = ctx.slot(env, "w")
    time.sleep(5)
    ctx.rig.set_faults(refuse=True, duration_ms=S["refuse_s"] * 1000)
    log(f"  cosmos refusing connections for {S['refuse_s']}s")
    time.sleep(S["refuse_s"])
    notes.append(f"Cosmos refused {S['refuse_s']}s; default retry.max_attempts=12")
    row = finish(ctx, "cosmos-down", topic, group, coll, [w], prod, bad_t, bad_values, t0, notes, failures,
                 drain_timeout=900, rss=rss)
    require_touched(failures, "worker retries + exits 1", cosmos_failures_seen(ctx, [w]))
    return row


@scenario
def s_throttle(ctx, notes, failures):
    S, t0 = ctx.sizes, time.monotonic()
    topic, group, coll = ctx.new_pipeline("throttle")
    env = ctx.worker_env(topic, group, coll)
    ctx.rig.set_faults(throttle_ratio=0.3, retry_after_ms=100, duration_ms=S["storm_s"] * 1000)
    prod, bad_t, bad_values = stream(ctx, topic, S["orders"], S["storm_s"])
    rss = RssSampler(ctx)
    w = ctx.slot(env, "w")
    time.sleep(S["storm_s"])
    throttled = ctx.rig.stats().get("throttled", 0)
    notes.append(f"429 storm {S['storm_s']}s: {throttled} writes throttled")
    require_touched(failures, "requests answered 429", throttled)
    return finish(ctx, "throttle", topic, group, coll, [w], prod, bad_t, bad_values, t0, notes, failures,
                  drain_timeout=900, rss=rss)


@scenario
def s_slow_sink(ctx, notes, failures):
    S, t0 = ctx.sizes, time.monotonic()
    topic, group, coll = ctx.new_pipeline("slow-sink")
    env = ctx.worker_env(topic, group, coll, ORDERSINK_BATCH_MAX_BYTES=S["slow_batch_bytes"])
    ctx.rig.set_faults(delay_ms=500, duration_ms=S["slow_s"] * 1000)
    # as fast as possible, large orders: the backlog outgrows the memory bound
    prod, bad_t, bad_values = stream(ctx, topic, S["slow_orders"], S["slow_s"], rate=0, size=S["slow_size"])
    rss = RssSampler(ctx)
    w = ctx.slot(env, "w")
    time.sleep(S["slow_s"])
    delayed = ctx.rig.stats().get("delayed", 0)
    row = finish(ctx, "slow-sink", topic, group, coll, [w], prod, bad_t, bad_values, t0, notes, failures,
                 drain_timeout=900, rss=rss)
    backlog = S["slow_orders"] * S["slow_size"] / 2**20
    bound = S["rss_bound_mb"]
    notes.append(f"every write +500 ms for {S['slow_s']}s, {backlog:.0f} MB backlog produced at full speed; "
                 f"peak VmHWM {row['rss']:.1f} MB (bound {bound} MB)")
    require_touched(failures, "writes delayed", delayed)
    if backlog < 1.5 * bound:
        failures.append(f"backlog {backlog:.0f} MB < 1.5 x the {bound} MB bound: an unbounded buffer could pass")
    if row["rss"] > bound:
        failures.append(f"peak VmHWM {row['rss']:.1f} MB > {bound} MB")
    return row


def restart_broker(ctx, down_s):
    """kill -9 of the rig's Kafka (RUN_DIR/kafka.pid), then the same command line, cwd and environment
    again (same server.properties, data dir and ports); RUN_DIR/kafka.pid is updated so rig.sh stop finds it."""
    run = ctx.rig.run_dir
    pidf = os.path.join(run, "kafka.pid")
    pid = int(open(pidf).read().strip())
    cmd = [a.decode() for a in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0") if a]
    cwd = os.readlink(f"/proc/{pid}/cwd")
    environ = dict(kv.decode().split("=", 1) for kv in open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
                   if b"=" in kv)
    assert "kafka.Kafka" in cmd, cmd
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    while alive(pid):
        time.sleep(0.05)
    time.sleep(down_s)
    with open(os.path.join(run, "kafka.out"), "ab") as out:
        p = subprocess.Popen(cmd, cwd=cwd, env=environ, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    ctx.procs.append(p)
    with open(pidf + ".tmp", "w") as f:
        f.write(f"{p.pid}\n")
    os.rename(pidf + ".tmp", pidf)
    deadline = time.monotonic() + 120
    admin = AdminClient({"bootstrap.servers": ctx.rig.bootstrap, "log_level": 0})
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"restarted kafka exited {p.returncode}; see {run}/kafka.out")
        try:
            md = admin.list_topics(timeout=2)
            parts = [pp for t in md.topics.values() for pp in t.partitions.values()]
            if md.brokers and parts and all(pp.leader >= 0 for pp in parts) and "__consumer_offsets" in md.topics:
                return time.monotonic() - t0
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError("restarted kafka not ready in 120s")


@scenario
def s_broker_restart(ctx, notes, failures):
    S, t0 = ctx.sizes, time.monotonic()
    topic, group, coll = ctx.new_pipeline("broker-restart")
    env = ctx.worker_env(topic, group, coll)
    prod, bad_t, bad_values = stream(ctx, topic, S["orders"], S["stream_s"])
    rss = RssSampler(ctx)
    w = ctx.slot(env, "w")
    time.sleep(S["stream_s"] / 2)
    outage = restart_broker(ctx, S["broker_down_s"])
    log(f"  broker killed -9 and back after {outage:.1f}s")
    notes.append(f"broker kill -9 + restart, unavailable {outage:.1f}s")
    row = finish(ctx, "broker-restart", topic, group, coll, [w], prod, bad_t, bad_values, t0, notes, failures,
                 drain_timeout=900, rss=rss)
    # the worker saw the broker go (librdkafka's warnings and errors go through its log)
    require_touched(failures, "worker warn/error lines", sum(l.get("level") in ("warn", "error") for l in worker_logs(ctx)))
    return row


RESCALE = {  # scenario -> (kafka.group_protocol, assignor setting, its value)
    "rescale-range": ("classic", "ORDERSINK_KAFKA_ASSIGNOR", "range"),
    "rescale-coop": ("classic", "ORDERSINK_KAFKA_ASSIGNOR", "cooperative-sticky"),
    "rescale-consumer": ("consumer", "ORDERSINK_KAFKA_GROUP_REMOTE_ASSIGNOR", "uniform"),
}


def rescale(ctx, notes, failures, name):
    S, t0 = ctx.sizes, time.monotonic()
    protocol, key, assignor = RESCALE[name]
    topic, group, coll = ctx.new_pipeline(name)
    env = ctx.worker_env(topic, group, coll, ORDERSINK_KAFKA_GROUP_PROTOCOL=protocol, **{key: assignor})
    prod, bad_t, bad_values = stream(ctx, topic, S["orders"], S["rescale_s"])
    rss = RssSampler(ctx)
    slots = [ctx.slot(env, "w0")]
    time.sleep(S["rescale_s"] / 4)
    log("  scale 1 -> 4")
    slots += [ctx.slot(env, f"w{i}") for i in (1, 2, 3)]
    time.sleep(S["rescale_s"] / 3)
    log("  scale 4 -> 1 (SIGTERM w0, w1, w2)")
    bad_exit = []
    for s in slots[:3]:
        rc, secs = ctx.stop_slot(s)
        if rc != 0 or secs > SHUTDOWN_TIMEOUT_MS / 1000:
            bad_exit.append(f"{s.name}: exit {rc} after {secs:.1f}s")
    if bad_exit:
        failures.append("scale-in SIGTERM not clean: " + "; ".join(bad_exit))
    notes.append(f"group protocol {protocol}, assignor {assignor}")
    row = finish(ctx, name, topic, group, coll, slots[3:], prod, bad_t, bad_values, t0, notes, failures,
                 drain_timeout=900, rss=rss, extra={"restarts": sum(s.restarts for s in slots)})
    require_touched(failures, "partitions revoked (worker logs)",
                    sum(l.get("msg") == "partitions revoked" for l in worker_logs(ctx)))
    return row


@scenario
def s_rescale_range(ctx, notes, failures):
    return rescale(ctx, notes, failures, "rescale-range")


@scenario
def s_rescale_coop(ctx, notes, failures):
    return rescale(ctx, notes, failures, "rescale-coop")


@scenario
def s_rescale_consumer(ctx, notes, failures):
    return rescale(ctx, notes, failures, "rescale-consumer")


@scenario
def s_sigterm(ctx, notes, failures):
    S, t0 = ctx.sizes, time.monotonic()
    topic, group, coll = ctx.new_pipeline("sigterm")
    port = free_port()
    # small batches: the slow sink keeps work in flight for every SIGTERM of the run
    env = ctx.worker_env(topic, group, coll, ORDERSINK_METRICS_PORT=port, ORDERSINK_BATCH_MAX_COUNT=20)
    # Everything produced first, so the topic can be read once to check "committed <= written" after each stop.
    prod, bad_t, bad_values = stream(ctx, topic, S["orders"], 5, rate=0)
    prod.wait()
    bad_t.join()
    msgs = ctx.rig.consume_all(topic, timeout=300)
    by_pos = {(m["partition"], m["offset"]): m["value"] for m in msgs}
    ctx.rig.set_faults(delay_ms=1000)  # slow sink: batches are in flight when SIGTERM comes
    rss = RssSampler(ctx)
    checked = {p: 0 for p in range(PARTITIONS)}
    exit_times = []
    hits = 0
    for k in range(S["sigterms"]):
        w = ctx.slot(env, f"w{k}")
        time.sleep(random.uniform(3, 6))
        hits += wait_in_flight(port) >= 1
        rc, secs = ctx.stop_slot(w)
        exit_times.append(secs)
        if rc != 0 or secs > SHUTDOWN_TIMEOUT_MS / 1000:
            failures.append(f"SIGTERM #{k}: exit {rc} after {secs:.1f}s (shutdown.timeout_ms {SHUTDOWN_TIMEOUT_MS})")
        committed = ctx.rig.committed(group, topic)
        # committed <= durably written: every valid order below a committed offset is in Cosmos
        # at that version or a later one (same partition, higher offset)
        need = {}
        for p, c in committed.items():
            for off in range(checked[p], c or 0):
                v = by_pos[(p, off)]
                if v in bad_values:
                    continue
                o = json.loads(v)
                need.setdefault(str(o["orderId"]), (o["customerId"], p, off))
                cur = need[str(o["orderId"])]
                if off > cur[2]:
                    need[str(o["orderId"])] = (o["customerId"], p, off)
        got = ctx.reader.read_many(coll, [(i, pk) for i, (pk, _, _) in need.items()])
        lost = [i for i, (pk, p, off) in need.items()
                if got[i] is None or got[i]["kafka"]["partition"] != p or got[i]["kafka"]["offset"] < off]
        if lost:
            failures.append(f"SIGTERM #{k}: {len(lost)} orders below the committed offset not written, e.g. {lost[:5]}")
        log(f"  SIGTERM #{k}: exit {rc} in {secs:.1f}s, committed {sum(v or 0 for v in committed.values())}"
            f"/{len(msgs)}, {len(need)} newly committed orders checked in Cosmos")
        checked = {p: (c or 0) for p, c in committed.items()}
    ctx.rig.reset_faults()
    if hits * 2 < S["sigterms"]:
        failures.append(f"only {hits} of {S['sigterms']} SIGTERMs came with batches in flight")
    notes.append(f"{S['sigterms']} SIGTERMs with writes delayed 1000 ms, {hits} with batches in flight: exit times "
                 f"{', '.join(f'{x:.1f}' for x in exit_times)} s (timeout {SHUTDOWN_TIMEOUT_MS / 1000:.0f} s)")
    w = ctx.slot(env, "final")
    return finish(ctx, "sigterm", topic, group, coll, [w], prod, bad_t, bad_values, t0, notes, failures,
                  drain_timeout=900, rss=rss, extra={"exit_max_s": max(exit_times)})


@scenario
def s_netcut(ctx, notes, failures):
    S, t0 = ctx.sizes, time.monotonic()
    topic, group, coll = ctx.new_pipeline("netcut")
    front_port = int(ctx.rig.env["COSMOS_ENDPOINT"].rsplit(":", 1)[1].strip("/"))
    proxy = BlackholeProxy("127.0.0.1", front_port).start()
    ctx.proxies.append(proxy)
    port = free_port()
    env = ctx.worker_env(topic, group, coll, ORDERSINK_COSMOS_ENDPOINT=f"https://127.0.0.1:{proxy.port}",
                         ORDERSINK_METRICS_PORT=port)
    prod, bad_t, bad_values = stream(ctx, topic, S["orders"], S["cut_s"] + 20)
    rss = RssSampler(ctx)
    w = ctx.slot(env, "w")
    time.sleep(5)
    proxy.cut()
    log(f"  network to Cosmos black-holed for {S['cut_s']}s")
    time.sleep(S["cut_s"])
    held = in_flight_now(port)  # batches the black hole holds (their requests cannot finish)
    proxy.heal()
    log("  healed")
    notes.append(f"black hole {S['cut_s']}s via proxy :{proxy.port}; cosmos.request_timeout_ms default 10000")
    row = finish(ctx, "netcut", topic, group, coll, [w], prod, bad_t, bad_values, t0, notes, failures,
                 drain_timeout=900, rss=rss)
    require_touched(failures, "batches in flight at heal + worker retries + exits 1",
                    held + cosmos_failures_seen(ctx, [w]))
    notes.append(f"{held} batches in flight when healed")
    proxy.stop()
    ctx.proxies.remove(proxy)
    return row


class CommitSampler:
    """Samples the group's committed offsets every `period` s through one open client and records every
    decrease of a partition's committed offset (a commit that moved the group backwards)."""

    def __init__(self, ctx, group, topic, period=0.2):
        from confluent_kafka import Consumer, TopicPartition
        self.c = Consumer({"bootstrap.servers": ctx.rig.bootstrap, "group.id": group, "enable.auto.commit": False})
        parts = self.c.list_topics(topic, timeout=10).topics[topic].partitions
        self.tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self.period, self.samples, self.backward, self.last = period, 0, [], {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                for tp in self.c.committed(self.tps, timeout=5):
                    if tp.offset < 0:
                        continue
                    prev = self.last.get(tp.partition)
                    if prev is not None and tp.offset < prev:
                        self.backward.append((tp.partition, prev, tp.offset))
                    self.last[tp.partition] = tp.offset
                self.samples += 1
            except Exception as e:  # a sample lost to a slow broker is not a finding
                log(f"  commit sample failed: {e}")
            self._stop.wait(self.period)

    def stop(self):
        self._stop.set()
        self._t.join(10)
        self.c.close()


def produce_versions(ctx, topic, ids, versions):
    """Version 1 of every order, then version 2 of every order, ...: each order's newest version comes
    last, long after the older ones. Keyed by customerId, so an order's versions share a partition."""
    p = Producer({"bootstrap.servers": ctx.rig.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5})
    for v in range(1, versions + 1):
        for i in range(ids):
            cust = f"zc{i % 50}"
            p.produce(topic, key=cust.encode(), value=json.dumps(
                {"orderId": f"z{i}", "customerId": cust, "version": v, "amount": i * 100 + v}).encode())
        p.poll(0)
    if p.flush(60):
        raise RuntimeError("versions not all delivered")


def zombie_round(ctx, k, bulk, partitions, notes, failures):
    """One freeze: worker A writes with several batches in flight and Cosmos answering in 100-1000 ms,
    is frozen (SIGSTOP) for >= 24 s - past its 6 s session timeout - while worker B takes the partitions
    over and writes every order up to its newest version; then A resumes (SIGCONT). Odd rounds also hold
    the writes A sends in the second before the freeze for 20 s at the front (requests already on the
    wire that Cosmos applies late, after B's: no fence can recall them)."""
    t0 = time.monotonic()
    name = f"zombie-{k}"
    topic, group, coll = ctx.new_pipeline(name, partitions)
    ids, versions = (300, 10) if bulk else (200, 4)
    produce_versions(ctx, topic, ids, versions)
    ctx.rig.set_faults(delay_ms=100, delay_jitter_ms=900)
    env = ctx.worker_env(topic, group, coll, ORDERSINK_KAFKA_SESSION_TIMEOUT_MS=6000,
                         ORDERSINK_PIPELINE_MAX_BATCHES=8, ORDERSINK_BATCH_MAX_COUNT=25 if bulk else 10,
                         ORDERSINK_COSMOS_BULK=int(bulk), ORDERSINK_COSMOS_MAX_IN_FLIGHT=64)
    sampler = CommitSampler(ctx, group, topic)
    a = ctx.slot(env, "a")
    deadline = time.monotonic() + 60
    while not any(sampler.last.values()) and time.monotonic() < deadline:  # A is writing and committing
        time.sleep(0.1)
    held = k % 2 == 1
    if held:
        ctx.rig.set_faults(delay_ms=20000)
        time.sleep(1.0)
    else:
        time.sleep(random.uniform(0.2, 1.0))
    a.proc.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    ctx.rig.set_faults(delay_ms=100, delay_jitter_ms=900)
    b = ctx.slot(env, "b")
    hw = ctx.rig.high_watermarks(topic)
    while time.monotonic() - stopped < 24 or not all(sampler.last.get(p) == h for p, h in hw.items()):
        if time.monotonic() - stopped > 180:
            failures.append(f"round {k}: B did not reach the end of the topic in 180 s: {sampler.last} vs {hw}")
            break
        time.sleep(0.2)
    frozen = time.monotonic() - stopped
    a.proc.send_signal(signal.SIGCONT)
    time.sleep(12)  # A finds out, rejoins; whatever it still writes or commits lands now
    ctx.rig.reset_faults()
    rc_a, _ = ctx.stop_slot(a)
    rc_b, _ = ctx.stop_slot(b)
    sampler.stop()
    stats = ctx.rig.stats()
    row = verify(ctx, name, topic, group, coll, set(), t0, notes, failures)
    if sampler.backward:
        failures.append(f"round {k}: committed offsets went backwards {sampler.backward[:5]}")
    ops = stats.get("ops", {})
    log(f"  round {k}: {'bulk' if bulk else 'single'}, {partitions} partition(s), A frozen {frozen:.0f}s"
        f"{', its last writes held 20 s' if held else ''}; "
        f"stale/missing {row['missing']}, backward commits {len(sampler.backward)} in {sampler.samples} samples; "
        f"exits A {rc_a} B {rc_b}; superseded-type answers: "
        f"{ {o: n for o, n in ops.items() if o.split()[1] in ('409', '412')} }")
    row.update(backward=len(sampler.backward), samples=sampler.samples)
    return row


@scenario
def s_split(ctx, notes, failures):
    """A 4-range container (Hash V1) whose ranges split twice under the worker's feet while one hot range
    is throttled by its own RU budget: the worker re-reads the ranges on 410/1002, re-routes, waits the
    429s out, never exits; every order lands once at its newest version."""
    S, t0 = ctx.sizes, time.monotonic()
    topic, group, coll = ctx.new_pipeline("split")
    ctx.rig.set_partitioning(DB, coll, ranges=4)
    env = ctx.worker_env(topic, group, coll)
    span = S["stream_s"]
    per_range = S["orders"] / span / 4
    budget = max(20, int(per_range * 0.7))  # the hot range takes 70 % of what it is offered
    prod, bad_t, bad_values = stream(ctx, topic, S["orders"], span)
    w = ctx.slot(env, "w")
    ctx.rig.set_partitioning(DB, coll, ru_per_second_by_range={"1": budget})
    log(f"  range 1 throttled at {budget} RU/s (1 RU per operation)")
    splits = []
    for k, rid in enumerate(("0", "2")):
        time.sleep(span / 3)
        out = ctx.rig.split_range(DB, coll, rid)
        splits.append(f"{rid}->{'+'.join(out['children'])}")
        log(f"  split range {rid} into {out['children']}")
    time.sleep(span / 3)
    drained = ctx.wait_drained(topic, group, prod, [bad_t], timeout=900)
    state = ctx.rig.partitioning(DB, coll)
    ctx.rig.set_partitioning(DB, coll, ru_per_second_by_range=None)
    refused = {k: v for k, v in state["refused"].items() if v}
    notes.append(f"splits {', '.join(splits)}; hot range 1 at {budget} RU/s; front refused {refused}")
    if set(refused) - {"range_gone", "outside_range", "throttled"}:
        failures.append(f"the front refused requests the worker must not send: {refused}")
    if not refused.get("range_gone"):
        failures.append("no request reached a split range: the scenario did not test re-routing")
    if not refused.get("throttled"):
        failures.append("the hot range was never throttled: the scenario did not test 429s")
    live = [r for r in state["ranges"] if not r["gone"]]
    if len(live) != 6:
        failures.append(f"{len(live)} live ranges, want 6")
    if not drained:
        failures.append("not drained (committed != high watermark) before the timeout")
    if w.restarts:
        failures.append(f"the worker exited {w.restarts} times (429 and 410 must not end it)")
    ctx.stop_slot(w)
    return verify(ctx, "split", topic, group, coll, bad_values, t0, notes, failures,
                  {"restarts": w.restarts, "gone": refused.get("range_gone", 0),
                   "throttled": refused.get("throttled", 0)})


@scenario
def s_zombie(ctx, notes, failures):
    t0 = time.monotonic()
    rounds = ctx.args.rounds or (1 if ctx.args.quick else 10)
    modes = [(b, p) for b in ((True, False) if ctx.args.bulk == "default" else (ctx.args.bulk == "1",))
             for p in (1, 2) for _ in (0, 1)]  # each mode with and without held writes
    # --quick (make test) runs one round, the harder one: A's last writes held until after B took over.
    ks = [1] if ctx.args.quick and not ctx.args.rounds else range(rounds)
    rows = [zombie_round(ctx, k, *modes[k % len(modes)], notes, failures) for k in ks]
    total = {c: sum(r.get(c, 0) for r in rows) for c in
             ("produced", "valid", "orders", "docs", "distinct", "missing", "dups", "writes", "backward", "samples")}
    total["redeliv"] = total["writes"] - total["valid"]
    total["dlq"] = "0/0+0"
    notes.append(f"{len(ks)} rounds (bulk and single, 1 and 2 partitions, odd rounds with A's last writes held 20 s), "
                 f"A frozen >= 24 s with 8 batches in flight, writes answered in 100-1000 ms; {total['missing']} stale or missing documents, "
                 f"{total['backward']} backward commits in {total['samples']} commit samples; "
                 f"write mode {ctx.args.write_mode}")
    return dict(scenario="zombie", restarts=0, wall=time.monotonic() - t0, **total)


# ---------------------------------------------------------------- main
COLS = [("scenario", "{:<16}"), ("produced", "{:>8}"), ("valid", "{:>7}"), ("orders", "{:>7}"), ("docs", "{:>7}"),
        ("distinct", "{:>8}"), ("missing", "{:>7}"), ("dups", "{:>5}"), ("writes", "{:>7}"), ("redeliv", "{:>7}"),
        ("reread", "{:>6}"), ("unowned", "{:>7}"),
        ("dlq", "{:>11}"), ("restarts", "{:>8}"), ("rss", "{:>6}"), ("wall", "{:>6}"), ("result", "{:<6}")]


def fmt_row(r):
    out = []
    for k, f in COLS:
        v = r.get(k, "")
        if k == "unowned" and isinstance(v, float):
            v = f"{v:.1f}s"
        elif k in ("rss", "wall") and isinstance(v, float):
            v = f"{v:.1f}" if k == "rss" else f"{v:.0f}s"
        out.append(f.format(v))
    return " ".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=0, help="orders per scenario (default 100000; --quick 3000)")
    ap.add_argument("--quick", action="store_true", help="reduced sizes and fault durations (< 6 min on 2 cores)")
    ap.add_argument("--only", default="", help="comma-separated scenario names: " + ", ".join(SCENARIOS) + ", rescale")
    ap.add_argument("--run-dir", default="", help="where the rig and the logs go (default: a new temp dir)")
    ap.add_argument("--worker", default=os.path.join(REPO, "bin", "worker"))
    ap.add_argument("--producer", default=os.path.join(REPO, "bin", "producer"))
    ap.add_argument("--bulk", choices=("default", "0", "1"), default="default",
                    help="ORDERSINK_COSMOS_BULK for the workers (0 = single upserts: exact per-document write counts)")
    ap.add_argument("--write-mode", choices=("default", "versioned", "upsert"), default="default",
                    help="ORDERSINK_COSMOS_WRITE_MODE for the workers (upsert: the unsafe mode, zombie fails)")
    ap.add_argument("--rounds", type=int, default=0,
                    help="zombie: freeze/resume rounds (default 1 with --quick: held writes; else 10)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the fault timing (default random, printed)")
    args = ap.parse_args()

    names = list(SCENARIOS)
    if args.quick:
        # make test's size (under 25 minutes in all): the cooperative-sticky rescale, which redelivered
        # no more than range in every full run (docs/reliability.md), is left to the full suite.
        names.remove("rescale-coop")
    if args.only:
        names = []
        for n in args.only.split(","):
            n = n.strip()
            if n == "rescale":
                names += list(RESCALE)
            elif n in SCENARIOS:
                names.append(n)
            else:
                ap.error(f"unknown scenario {n!r}; known: {', '.join(SCENARIOS)}, rescale")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    random.seed(seed)

    ctx = Ctx(args)
    atexit.register(ctx.cleanup)

    def on_signal(sig, frame):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log(f"reliability: {', '.join(names)}; sizes {ctx.sizes}; seed {seed}; run dir {ctx.run_dir}")
    t_all = time.monotonic()
    rows, details = [], []
    passed = failed = 0
    try:
        ctx.start()
        for name in names:
            log(f"== {name}")
            notes, failures = [], []
            t0 = time.monotonic()
            try:
                row = SCENARIOS[name](ctx, notes, failures)
            except Exception as e:
                traceback.print_exc()
                failures.append(f"error: {e!r}")
                row = {"scenario": name, "wall": time.monotonic() - t0}
            finally:
                for s in list(ctx.slots):
                    ctx.stop_slot(s, signal.SIGKILL)
                try:
                    ctx.rig.reset_faults()
                except Exception:
                    pass
            row["result"] = "FAIL" if failures else "ok"
            passed += not failures
            failed += bool(failures)
            rows.append(row)
            details.append((name, notes, failures))
            log(f"   {fmt_row(row)}")
            for n in notes:
                log(f"   note: {n}")
            for f in failures:
                log(f"   FAIL: {f}")
    finally:
        ctx.cleanup()
    print()
    print(f"ordersink reliability ({'quick' if args.quick else 'full'}, seed {seed}, "
          f"{time.monotonic() - t_all:.0f}s, logs in {ctx.run_dir})")
    print(fmt_row({k: k for k, _ in COLS}))
    for r in rows:
        print(fmt_row(r))
    print("columns: produced = messages in the topic (orders + versions + malformed); valid = order messages; "
          "orders = distinct order ids; docs = documents in Cosmos; missing = absent or not at the latest version; "
          "dups = docs - distinct ids; writes = 200/201 document writes at the Cosmos front; redeliv = writes - valid; "
          "reread = messages consumed by all workers (their last progress lines) - produced; "
          "unowned = partition-seconds between a revocation and the next assignment (rebalance cost); "
          "dlq = distinct dead letters/expected+duplicates; rss = peak worker VmHWM MB")
    for name, notes, failures in details:
        for n in notes:
            print(f"  {name}: {n}")
        for f in failures:
            print(f"  {name}: FAIL {f}")
    for src in sorted(ctx.writes_source):
        print(f"writes counted from: {src}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
