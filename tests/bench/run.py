"""ordersink benchmark (`make bench`): one command, one table, every ratio measured in the same run.

Starts its own rig (tests/e2e/rig.py: Kafka 4.4.0 + @vercel/cosmosdb-server behind the signature-
checking front), then for low (100) and high (1,000,000) customer cardinality:
  * preloads N producer-generated 1 KB orders into a 6-partition topic (bin/producer --seed ...),
  * sink ceiling: wrk replays the same documents straight at the same Cosmos front (https, same
    path and headers as the worker): single upserts and non-atomic batches of 100, with as many
    connections as the worker's cosmos.max_in_flight,
  * Kafka read floor: kcat -C reads the same topic (CPU per message, from wait4 rusage),
  * the worker, fresh consumer group + fresh container per run: exec -> all committed
    (committed offsets == high watermarks, polled every --poll-ms), CPU, peak RSS, HTTP requests
    per 100 orders (front's counters), exec -> "worker started" / "partitions assigned" / /readyz 200;
    runs: baseline (metrics endpoint on, scraped every 1 s), metrics off, and, with --worker-env,
    a variant with extra settings (e.g. ORDERSINK_COSMOS_BULK=1),
and the producer against kcat -P (same JSON lines, same keys, same librdkafka settings), alternating
--producer-runs times (--only-producer runs just that).

Misses against the targets are facts, not failures: the exit code is non-zero only on errors.
Results: build/bench/results-<timestamp>.json and build/bench/latest.json.
"""
import argparse
import datetime
import email.utils
import json
import os
import platform
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from rig import REPO, Rig, cosmos_auth  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
import cost  # noqa: E402  (cost per order: --cost)

DB = "bench"
PARTITIONS = 6
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGETS = {  # what the table prints next to the figures
    "ratio_ceiling": 0.8,     # worker e2e orders/s >= 0.8 x sink ceiling
    "cpu_us_per_order": 10.0,  # worker CPU per order
    "rss_mb": 24.0,           # worker peak RSS
    "start_ms": 100.0,        # exec -> ready, excluding the group join
    "http_per_100": 2.0,      # HTTP requests per 100 orders
    "producer_ratio": 0.9,    # producer orders/s >= 0.9 x kcat -P's, in every alternating run
    "producer_cpu_ratio": 1.0,  # producer CPU per order <= kcat -P's CPU per message, in every run
}
# The worker's log lines on the way from exec to the first commit, in order, and the phases
# between them (docs/benchmarks.md, "Start-up"). The group is fresh, so "assignment" includes
# committing the start positions (one ListOffsets + one OffsetCommit).
START_MARKS = ["container", "worker started", "partitions assigned", "partitions ready", "first message",
               "first batch durable", "first commit"]
START_PHASES = [  # (phase, from mark, to mark)
    ("process + Cosmos container read", "exec", "container"),
    ("consumer created, subscribed", "container", "worker started"),
    ("connect + join -> assignment", "worker started", "partitions assigned"),
    ("assignment (start positions)", "partitions assigned", "partitions ready"),
    ("fetch -> first message", "partitions ready", "first message"),
    ("first batch written", "first message", "first batch durable"),
    ("first commit", "first batch durable", "first commit"),
    ("exec -> first durable write", "exec", "first batch durable"),
    ("exec -> first commit", "exec", "first commit"),
]
COMMANDS = []  # every external command, as run (secrets replaced by their rig.env names)
SECRETS = {}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def redact(s):
    for name, val in SECRETS.items():
        s = s.replace(val, f"${name}")
    return s


def record(argv, env=None, stdin=None, stdout=None, note=None):
    parts = [f"{k}={shlex.quote(v)}" for k, v in (env or {}).items()] + [shlex.quote(a) for a in argv]
    line = " ".join(parts)
    if stdin:
        line += f" < {stdin}"
    if stdout:
        line += f" > {stdout}"
    line = redact(line)
    if note:
        line += f"    # {note}"
    COMMANDS.append(line)
    log("$ " + line)


def wait_rusage(pid, timeout=None):
    """os.wait4 with a timeout: (status, rusage) or None on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wpid, status, ru = os.wait4(pid, os.WNOHANG if deadline else 0)
        if wpid == pid:
            return os.waitstatus_to_exitcode(status), ru
        if deadline and time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def run_child(argv, env=None, stdin_path=None, stdout_path=os.devnull, stderr_path=None, timeout=600, note=None):
    """Runs argv, returns dict(rc, wall_s, user_s, sys_s, maxrss_kb, stderr)."""
    record(argv, env, stdin_path, None if stdout_path == os.devnull else stdout_path, note)
    full_env = {**os.environ, **(env or {})}
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    fout = open(stdout_path, "wb")
    ferr = open(stderr_path, "wb") if stderr_path else tempfile.TemporaryFile()
    try:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=full_env, stdin=fin, stdout=fout, stderr=ferr)
        res = wait_rusage(p.pid, timeout)
        if res is None:
            os.kill(p.pid, signal.SIGKILL)
            res = wait_rusage(p.pid)
            raise RuntimeError(f"timeout after {timeout}s: {argv}")
        wall = time.monotonic() - t0
        p.returncode = res[0]  # reaped by wait4; tell Popen
        rc, ru = res
        ferr.seek(0) if not stderr_path else None
        err = "" if stderr_path else ferr.read().decode(errors="replace")
    finally:
        for f in (fin, fout, ferr):
            if hasattr(f, "close"):
                f.close()
    return {"rc": rc, "wall_s": wall, "user_s": ru.ru_utime, "sys_s": ru.ru_stime, "maxrss_kb": ru.ru_maxrss,
            "stderr": err}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def log_ts(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def parse_log(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


# ---------------------------------------------------------------- machine / versions
def machine_info():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(next(l for l in f if l.startswith("MemTotal")).split()[1])
    osrel = ""
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            osrel = dict(l.rstrip().split("=", 1) for l in f if "=" in l).get("PRETTY_NAME", "").strip('"')
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": cpu, "mem_gb": round(mem_kb / 1048576, 1),
            "kernel": platform.release(), "os": osrel, "hostname": socket.gethostname()}


def cmd_out(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip()
    except Exception as e:  # noqa: BLE001
        return f"unavailable ({e})"


def versions(worker_bin, rig):
    kafka = [rig.env["KAFKA_VERSION"]] if rig.env.get("KAFKA_VERSION") else []  # the broker the rig started
    with open(os.path.join(REPO, "tests", "rig", "node_modules", "@vercel", "cosmosdb-server", "package.json")) as f:
        cosmos = json.load(f)["version"]
    kcat = cmd_out(["kcat", "-V"])
    return {
        "worker": cmd_out([worker_bin, "--version"]),
        "kafka": kafka[0] if kafka else "?",
        "cosmosdb_server": cosmos,
        "node": cmd_out(["node", "--version"]),
        "wrk": cmd_out(["wrk", "-v"]).splitlines()[0],
        "kcat": " ".join(l.strip() for l in kcat.splitlines() if "kcat" in l.lower() and "version" in l.lower()
                         or "librdkafka" in l.lower())[:200],
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------- data
def dry_run(producer_bin, out_path, size, seed, customers, count):
    argv = [producer_bin, "--dry-run", "--size", str(size), "--seed", str(seed), "--customers", str(customers),
            "--count", str(count)]
    r = run_child(argv, stdout_path=out_path)
    if r["rc"] != 0:
        raise RuntimeError(f"producer --dry-run failed: {r['stderr']}")
    with open(out_path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    if len(lines) != count:
        raise RuntimeError(f"producer --dry-run gave {len(lines)} lines, expected {count}")
    return lines


def worker_doc(order, topic, partition, offset):
    """The document the worker writes (docs/cosmos.md, "The document"): order + id + kafka metadata."""
    d = dict(order)
    d["id"] = str(order["orderId"])
    d["kafka"] = {"topic": topic, "partition": partition, "offset": offset, "timestamp": 1767225600000}
    return d


def route_keys(keys, ranges):
    """The range id of each partition key (JSON) in a container of `ranges` even Hash V2 ranges,
    computed by the rig front's own routing code (tests/bench/route.js)."""
    r = subprocess.run(["node", os.path.join(HERE, "route.js"), "2", str(ranges)], input="\n".join(keys) + "\n",
                       capture_output=True, text=True, check=True)
    ids = r.stdout.split()
    if len(ids) != len(keys):
        raise RuntimeError(f"route.js routed {len(ids)} of {len(keys)} keys: {r.stderr}")
    return ids


def write_wrk_data(lines, topic, single_path, batch_path, batch_size=100, ranges=None):
    """The wrk data sets. With `ranges` (a container of that many Hash V2 ranges), each batch line
    is  <range id> TAB <operations>  and holds only that range's operations, in order, as the worker
    sends them; a batch is written when it reaches batch_size operations."""
    docs = []
    for i, line in enumerate(lines):
        o = json.loads(line)
        docs.append((json.dumps([o["customerId"]]), worker_doc(o, topic, i % PARTITIONS, i // PARTITIONS)))
    rids = route_keys([pk for pk, _ in docs], ranges) if ranges else ["" for _ in docs]
    with open(single_path, "w") as fs, open(batch_path, "w") as fb:
        open_ops = {}
        for (pk, doc), rid in zip(docs, rids):
            fs.write(pk + "\t" + json.dumps(doc, separators=(",", ":")) + "\n")
            ops = open_ops.setdefault(rid, [])
            ops.append({"operationType": "Upsert", "partitionKey": pk, "resourceBody": doc})
            if len(ops) == batch_size:
                fb.write((rid + "\t" if ranges else "") + json.dumps(ops, separators=(",", ":")) + "\n")
                open_ops[rid] = []
        for rid, ops in open_ops.items():
            if ops:
                fb.write((rid + "\t" if ranges else "") + json.dumps(ops, separators=(",", ":")) + "\n")


# ---------------------------------------------------------------- the bench
class Bench:
    def __init__(self, args, rig, outdir):
        self.a = args
        self.rig = rig
        self.out = outdir
        self.worker_bin = os.path.join(outdir, "bin", "worker")
        self.producer_bin = os.path.join(outdir, "bin", "producer")
        self.max_in_flight = 16  # cosmos.max_in_flight default (docs/configuration.md); the ceiling uses as many connections

    def warm_up(self):
        """A short unmeasured wrk run of each kind: the node server's JIT is cold after the rig starts
        (measured: the first 2 s run gives ~400 docs/s single vs ~3,500 warm)."""
        lines = dry_run(self.producer_bin, os.path.join(self.out, "orders-warmup.jsonl"), 1024, 99, 1000, 2000)
        self.ceiling("warmup", lines, "warmup", seconds=3, quiet=True)

    def new_container(self, name, ranges=None):
        coll = f"{name}-{uuid.uuid4().hex[:6]}"
        self.rig.create_container(DB, coll, version=2 if ranges else None, ranges=ranges)
        return coll

    def drop_container(self, coll):
        # the local server keeps every document in memory: free them before the next measurement
        try:
            self.rig.cosmos_request("DELETE", f"/dbs/{DB}/colls/{coll}")
        except Exception:  # noqa: BLE001
            pass

    # ---- sink ceiling (wrk)
    def ceiling(self, card, lines, topic, seconds=None, quiet=False, ranges=None):
        """wrk at the front: single upserts and batches of 100 on a one-range container; with
        `ranges`, batches only, on a container of that many ranges, each batch one range's."""
        tag = f"{card}-r{ranges}" if ranges else card
        single = os.path.join(self.out, f"wrk-{tag}-single.txt")
        batch = os.path.join(self.out, f"wrk-{tag}-batch.txt")
        write_wrk_data(lines, topic, single, batch, ranges=ranges)
        res = {}
        modes = (("batch", batch, None),) if ranges else (("single", single, 1), ("batch", batch, None))
        for mode, path, per_req in modes:
            coll = self.new_container(f"{tag}-wrk-{mode}", ranges)
            link = f"dbs/{DB}/colls/{coll}"
            date = email.utils.formatdate(usegmt=True)
            auth = cosmos_auth(self.rig.env["COSMOS_KEY"], "POST", "docs", link, date)
            SECRETS["WRK_AUTH"] = auth  # a signature, not the key; kept out of the printed command for brevity
            url = f"{self.rig.env['COSMOS_ENDPOINT']}/{link}/docs"
            argv = ["wrk", "-t", str(self.a.wrk_threads), "-c", str(self.max_in_flight), "-d", f"{seconds or self.a.wrk_seconds}s",
                    "--timeout", "10s", "-s", os.path.join(HERE, "sink.lua"), url, "--",
                    path, mode, date, auth, str(self.a.wrk_threads)]
            self.rig.reset_stats()
            out = os.path.join(self.out, f"wrk-{tag}-{mode}.out")
            r = run_child(argv, stdout_path=out, note=f"sink ceiling, {mode}" if not quiet else "warm-up, not measured")
            with open(out) as f:
                text = f.read()
            m = re.search(r"WRKJSON (\{.*\})", text)
            if r["rc"] != 0 or not m:
                raise RuntimeError(f"wrk {mode} failed (rc {r['rc']}): {text[-2000:]} {r['stderr']}")
            w = json.loads(m.group(1))
            st = self.rig.stats()
            ok = sum(v for k, v in st["by_status"].items() if k.startswith("2"))
            if per_req is None:
                with open(path) as f:
                    sizes = [len(json.loads(l.split("\t", 1)[-1])) for l in f]
                per_req = sum(sizes) / len(sizes)
            rps = w["requests"] / (w["duration_us"] / 1e6)
            non2xx = st["requests"] - ok
            res[mode] = {"requests_per_s": rps, "docs_per_s": rps * per_req, "ops_per_request": per_req,
                         "wrk": w, "front": st, "non_2xx": non2xx, "user_s": r["user_s"], "sys_s": r["sys_s"]}
            if non2xx > 0 or w["err_status"] or w["err_connect"]:
                log(f"WARNING: wrk {mode}: {non2xx} non-2xx at the front ({st['by_status']}), wrk errors {w}")
            self.drop_container(coll)
            log(f"  ceiling {tag} {mode}: {rps * per_req:.0f} docs/s ({rps:.0f} req/s)")
        return res

    # ---- Kafka read floor (kcat -C)
    def kcat_read(self, topic, n, times=3):
        """kcat -C reading the whole topic, `times` times; the run with the median CPU is reported
        (one read of 30k messages costs only ~0.1 s CPU, so a single one is noisy)."""
        runs = sorted((self._kcat_read_once(topic, n) for _ in range(times)), key=lambda r: r["cpu_s"])
        return {**runs[len(runs) // 2], "reads": times, "cpu_us_per_msg_all": [r["cpu_us_per_msg"] for r in runs]}

    def _kcat_read_once(self, topic, n):
        argv = ["kcat", "-C", "-b", self.rig.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"]
        cnt_path = os.path.join(self.out, f"kcat-read-{topic}.out")
        r = run_child(argv, stdout_path=cnt_path, note="Kafka read floor")
        with open(cnt_path, "rb") as f:
            got = sum(1 for _ in f)
        os.unlink(cnt_path)
        if r["rc"] != 0 or got < n:
            raise RuntimeError(f"kcat -C read {got}/{n} (rc {r['rc']}): {r['stderr']}")
        cpu = r["user_s"] + r["sys_s"]
        return {"messages": got, "wall_s": r["wall_s"], "cpu_s": cpu, "cpu_us_per_msg": cpu / n * 1e6,
                "msgs_per_s": n / r["wall_s"], "maxrss_kb": r["maxrss_kb"]}

    # ---- the worker
    def worker_run(self, card, name, topic, n, hw, extra_env, metrics=True):
        group = f"bench-{card}-{name}-{uuid.uuid4().hex[:6]}"
        # RANGES=N in a variant: the worker's container has N partition key ranges (Hash V2) at the
        # front (docs/rig-partitioning.md); not a worker setting. The ceiling stays on one range.
        extra_env = dict(extra_env)
        ranges = int(extra_env.pop("RANGES")) if "RANGES" in extra_env else None
        coll = self.new_container(f"{card}-{name}", ranges)
        env = self.rig.worker_env(topic, group, DB, coll)
        port = free_port() if metrics else 0
        env["ORDERSINK_METRICS_PORT"] = str(port)
        env["ORDERSINK_METRICS_BIND"] = "127.0.0.1"
        env.update(extra_env)
        logp = os.path.join(self.out, f"worker-{card}-{name}.log")
        record([self.worker_bin], env, None, logp, note=f"worker run {card}/{name}")
        tps = [TopicPartition(topic, p) for p in sorted(hw)]
        cc = Consumer({"bootstrap.servers": self.rig.bootstrap, "group.id": group, "enable.auto.commit": False})
        cc.list_topics(topic, timeout=10)  # connect before the clock starts
        self.rig.reset_stats()
        st = {"ready_wall": None, "cpu_at_ready": None, "scrapes": 0, "scrape_errors": 0}
        stop = threading.Event()
        with open(logp, "wb") as lf:
            t_exec = time.time()
            p = subprocess.Popen([self.worker_bin], env={**os.environ, **env}, stdout=lf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        self.children.append(p)

        def scraper():  # /readyz every 2 ms until 200, then /metrics every 1 s (a Prometheus-like scrape)
            base = f"http://127.0.0.1:{port}"
            while not stop.is_set() and st["ready_wall"] is None:
                try:
                    with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                        if r.status == 200:
                            st["ready_wall"] = time.time()
                            try:
                                st["cpu_at_ready"] = proc_cpu_s(p.pid)
                            except OSError:
                                pass
                            break
                except Exception:  # noqa: BLE001  (refused before listen, 503 before joined)
                    pass
                time.sleep(0.002)
            while not stop.wait(1.0):
                try:
                    with urllib.request.urlopen(base + "/metrics", timeout=2) as r:
                        r.read()
                    st["scrapes"] += 1
                except Exception:  # noqa: BLE001
                    st["scrape_errors"] += 1

        th = threading.Thread(target=scraper, daemon=True)
        if metrics:
            th.start()
        t_first = t_done = None
        cpu_done = hwm_kb = rss_kb = None
        deadline = time.monotonic() + self.a.worker_timeout
        err = None
        try:
            while True:
                time.sleep(self.a.poll_ms / 1000)
                if p.poll() is not None:
                    err = f"worker exited with {p.returncode} before committing; see {logp}"
                    break
                res = cc.committed(tps, timeout=10)
                now = time.time()
                offs = {tp.partition: tp.offset for tp in res}
                if t_first is None and any(o > 0 for o in offs.values()):
                    t_first = now
                if all(offs.get(q) == h for q, h in hw.items()):
                    t_done = now
                    cpu_done = proc_cpu_s(p.pid)
                    hwm_kb = proc_status_kb(p.pid, "VmHWM")
                    rss_kb = proc_status_kb(p.pid, "VmRSS")
                    break
                if time.monotonic() > deadline:
                    err = f"worker did not commit everything in {self.a.worker_timeout}s: {offs} vs {hw}"
                    break
            front = self.rig.stats()
        finally:
            stop.set()
            cc.close()
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
            res = wait_rusage(p.pid, 30)
            if res is None:
                os.kill(p.pid, signal.SIGKILL)
                res = wait_rusage(p.pid)
            p.returncode = res[0]
            self.children.remove(p)
            if metrics:
                th.join(3)
        rc, ru = res
        lines = parse_log(logp)
        first = lambda msg: next((log_ts(l["ts"]) for l in lines if l.get("msg") == msg and "ts" in l), None)  # noqa: E731
        t_started, t_assigned = first("worker started"), first("partitions assigned")
        # start -> first durable write -> first commit, from the worker's own log timestamps
        marks = [("exec", t_exec)] + [(m, first(m)) for m in START_MARKS]
        prog = [l for l in lines if l.get("msg") == "progress"]
        errors = [l for l in lines if l.get("level") in ("error",)]
        if not err:
            err = self.check_documents(coll, n, front)
        part = self.rig.partitioning(DB, coll)
        batches = sum(r["batches"] for r in part["ranges"])
        landed = sum(r["landed"] for r in part["ranges"])
        refused = {k: v for k, v in part["refused"].items() if v}
        self.drop_container(coll)
        if err:
            raise RuntimeError(err)
        ms = lambda a, b: None if a is None or b is None else (b - a) * 1000  # noqa: E731
        total_s = t_done - t_exec
        steady_s = t_done - (t_assigned or t_exec)
        cpu_total = cpu_done
        cpu_ready = st["cpu_at_ready"]
        requests = front["requests"]
        out = {
            "name": name, "group": group, "container": coll, "extra_env": extra_env, "metrics_port": port,
            "orders": n, "log": logp, "exit_code": rc,
            "exec_to_started_ms": ms(t_exec, t_started), "exec_to_assigned_ms": ms(t_exec, t_assigned),
            "exec_to_readyz_ms": ms(t_exec, st["ready_wall"]), "group_join_ms": ms(t_started, t_assigned),
            "exec_to_first_commit_s": None if t_first is None else t_first - t_exec,
            "start_marks": {m: (None if t is None else (t - t_exec) * 1000) for m, t in marks},
            "start_phases_ms": {ph: ms(dict(marks)[a], dict(marks)[b]) for ph, a, b in START_PHASES},
            "exec_to_all_committed_s": total_s, "assigned_to_all_committed_s": steady_s,
            "orders_per_s_total": n / total_s, "orders_per_s_steady": n / steady_s,
            "cpu_s_at_done": cpu_total, "cpu_s_at_ready": cpu_ready,
            "cpu_s_rusage_after_exit": ru.ru_utime + ru.ru_stime,
            "cpu_us_per_order_total": cpu_total / n * 1e6,
            "cpu_us_per_order_after_ready": None if cpu_ready is None else (cpu_total - cpu_ready) / n * 1e6,
            "vmhwm_kb": hwm_kb, "vmrss_kb_at_done": rss_kb, "ru_maxrss_kb": ru.ru_maxrss,
            "front_requests": requests, "front_by_status": front["by_status"],
            "http_requests_per_100": (requests - 1) / n * 100,  # minus the worker's start-up GET
            "ranges": ranges or 1, "write_requests": batches, "operations_landed": landed,
            "ops_per_request": landed / batches if batches else None,
            "write_requests_per_100": batches / n * 100, "front_refused": refused,
            "scrapes": st["scrapes"], "scrape_errors": st["scrape_errors"],
            "last_progress": prog[-1] if prog else None, "error_lines": errors[:5],
        }
        log(f"  worker {card}/{name}: {out['orders_per_s_total']:.0f} orders/s total, "
            f"{out['orders_per_s_steady']:.0f} steady, {out['cpu_us_per_order_total']:.1f} us CPU/order, "
            f"HWM {hwm_kb} kB, {out['http_requests_per_100']:.1f} req/100, "
            f"{out['ranges']} ranges: {out['write_requests_per_100']:.2f} write requests/100, "
            f"{out['ops_per_request'] or 0:.1f} ops/request, refused {refused}, exit {rc}")
        return out

    def check_documents(self, coll, n, front):
        """The run timed real writes: the fresh container got n new documents (the front's 201s;
        a COUNT query scans every document on the local server) and 20 sampled orders read back
        equal what the producer generated. Returns an error text or None."""
        if front.get("doc_creates") != n:
            return f"the worker created {front.get('doc_creates')} documents, expected {n}"
        orders = self.expected_orders
        for o in random.Random(n).sample(orders, min(20, len(orders))):
            doc = self.rig.read_doc(DB, coll, str(o["orderId"]), o["customerId"])
            body = {k: v for k, v in (doc or {}).items() if k not in ("id", "kafka") and not k.startswith("_")}
            if body != o:
                return f"order {o['orderId']} in Cosmos is {str(doc)[:200]}, expected {str(o)[:200]}"
        return None

    # ---- one cardinality
    def cardinality(self, card, customers, seed):
        n = self.a.orders
        topic = f"bench-{card}-{uuid.uuid4().hex[:6]}"
        log(f"== {card} cardinality: {customers} customers, {n} orders of 1 KB, topic {topic}")
        self.rig.create_topic(topic + ".dlq", 1)
        penv = {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": self.rig.bootstrap}
        argv = [self.producer_bin, "--size", "1024", "--seed", str(seed), "--customers", str(customers),
                "--count", str(n), "--rate", "0", "--topic", topic, "--create-topic", str(PARTITIONS)]
        r = run_child(argv, env=penv, note="preload")
        if r["rc"] != 0:
            raise RuntimeError(f"preload failed: {r['stderr']}")
        hw = self.rig.high_watermarks(topic)
        if sum(hw.values()) != n:
            raise RuntimeError(f"preload: {sum(hw.values())} messages in {topic}, expected {n}")
        lines = dry_run(self.producer_bin, os.path.join(self.out, f"orders-{card}.jsonl"), 1024, seed, customers, n)
        self.expected_orders = [json.loads(l) for l in lines]  # --seed: the same orders as the preload
        res = {"customers": customers, "seed": seed, "topic": topic, "orders": n,
               "preload": {k: r[k] for k in ("wall_s", "user_s", "sys_s")}}
        res["kcat_read"] = self.kcat_read(topic, n)
        res["ceiling"] = self.ceiling(card, lines, topic)
        # A variant on a many-range container is compared with the ceiling of the same container
        # kind: the front routes and checks every operation of such a container (JavaScript work
        # a one-range container skips), so the one-range ceiling would overstate its sink.
        for rcount in sorted({int(v["RANGES"]) for _, v in self.a.variants if "RANGES" in v}):
            res["ceiling"][f"batch_r{rcount}"] = self.ceiling(card, lines, topic, ranges=rcount)["batch"]
        runs = {}
        variants = [("baseline", {}, True)]
        if self.a.metrics_off:
            variants.append(("metrics_off", {}, False))
        for vname, venv in self.a.variants:
            variants.append((vname, venv, True))
        for rep in range(self.a.repeat):
            for name, extra, metrics in variants:
                out = self.worker_run(card, name, topic, n, hw, extra, metrics)
                runs.setdefault(name, []).append(out)
        res["worker"] = {name: median_run(rs) for name, rs in runs.items()}
        res["worker_all_runs"] = runs
        return res

    # ---- producer vs kcat -P
    # What bin/producer sets by default (producer/main.c, lib/kafka.c), given to kcat -P too so both
    # run with the same librdkafka settings; batch.size, batch.num.messages, compression (none) and
    # sticky partitioning are the library defaults, the same in 2.0.2 and 2.15.1.
    PRODUCER_SETTINGS = [("acks", "all"), ("enable.idempotence", "true"), ("linger.ms", "10"),
                         ("message.timeout.ms", "30000"), ("message.max.bytes", "4194304"),
                         ("queue.buffering.max.messages", "10000"), ("enable.sparse.connections", "false")]

    def producer_bench(self):
        """bin/producer and kcat -P (Debian's, librdkafka 2.0.2) alternating, --producer-runs times, each
        writing the same N 512-byte orders with the same keys to a fresh 6-partition topic; also kcat -P
        on the bench's librdkafka (2.15.1, LD_LIBRARY_PATH) when its shared library is there, to show
        what the library version alone does. Figures per run: exec -> exit orders/s, CPU us/order
        (wait4 rusage: user + sys), peak RSS; ratios producer / kcat -P (2.0.2) per run."""
        n, seed, customers = self.a.producer_count, 11, 1000
        log(f"== producer: {n} orders of 512 B, {self.a.producer_runs} alternating runs")
        data = dry_run(self.producer_bin, os.path.join(self.out, "producer-orders.jsonl"), 512, seed, customers, n)
        keyed = os.path.join(self.out, "producer-keyed.txt")
        with open(keyed, "w") as f:
            for line in data:
                f.write(json.loads(line)["customerId"] + "|" + line + "\n")
        kx = [y for k, v in self.PRODUCER_SETTINGS for y in ("-X", f"{k}={v}")]
        rdk_lib = os.path.join(REPO, ".cache", "librdkafka-2.15.1", "lib")
        tools = [("producer", [self.producer_bin, "--size", "512", "--seed", str(seed), "--customers", str(customers),
                               "--count", str(n), "--rate", "0", "--topic"], None),
                 ("kcat", ["kcat", "-P", "-b", self.rig.bootstrap, *kx, "-K", "|", "-l", keyed, "-t"], None)]
        if os.path.exists(os.path.join(rdk_lib, "librdkafka.so.1")):
            tools.append(("kcat_2_15", tools[1][1], {"LD_LIBRARY_PATH": rdk_lib}))
        penv = {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": self.rig.bootstrap}
        # One unmeasured round first, so that neither tool meets a cold broker (JIT, page cache): on a
        # quiet machine without it, run 1 (producer first) gave 0.62 and runs 2 and 3 0.95 and 1.00.
        for name, argv, env in tools:
            topic = f"bench-warm-{name.replace('_', '')}-{uuid.uuid4().hex[:6]}"
            self.rig.create_topic(topic, PARTITIONS)
            run_child(argv + [topic], env=penv if name == "producer" else env,
                      note=f"producer bench warm-up, not measured: {name}")
        runs = []
        for i in range(self.a.producer_runs):
            run = {}
            for name, argv, env in tools:
                topic = f"bench-{name.replace('_', '')}-{uuid.uuid4().hex[:6]}"
                self.rig.create_topic(topic, PARTITIONS)
                r = run_child(argv + [topic], env=penv if name == "producer" else env,
                              note=f"producer bench run {i + 1}: {name}")
                if r["rc"] != 0:
                    raise RuntimeError(f"{name} failed: {r['stderr']}")
                got = sum(self.rig.high_watermarks(topic).values())
                if got != n:
                    raise RuntimeError(f"producer bench: {name} landed {got} messages, expected {n}")
                run[name] = {**{k: r[k] for k in ("wall_s", "user_s", "sys_s")},
                             "per_s": n / r["wall_s"], "cpu_us": (r["user_s"] + r["sys_s"]) / n * 1e6}
            run["ratio"] = run["producer"]["per_s"] / run["kcat"]["per_s"]
            run["cpu_ratio"] = run["producer"]["cpu_us"] / run["kcat"]["cpu_us"]
            log(f"   run {i + 1}: producer {run['producer']['per_s']:,.0f}/s {run['producer']['cpu_us']:.2f} us, "
                f"kcat -P {run['kcat']['per_s']:,.0f}/s {run['kcat']['cpu_us']:.2f} us: "
                f"ratio {run['ratio']:.2f}, CPU ratio {run['cpu_ratio']:.2f}")
            runs.append(run)
            tools = tools[1:] + tools[:1]  # alternate who goes first
        return {"orders": n, "avg_value_bytes": sum(len(l) for l in data) / n,
                "settings": dict(self.PRODUCER_SETTINGS), "runs": runs,
                "pass": all(r["ratio"] >= TARGETS["producer_ratio"] and r["cpu_ratio"] <= TARGETS["producer_cpu_ratio"]
                            for r in runs)}


def median_run(rs):
    """The run with the median steady orders/s (the whole run, so its figures stay consistent)."""
    rs = sorted(rs, key=lambda r: r["orders_per_s_steady"])
    return rs[len(rs) // 2]


# ---------------------------------------------------------------- report
def fmt(v, nd=0):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    return f"{v:,.{nd}f}"


def verdict(vals, ok):
    vs = ["n/a" if v is None else ("pass" if ok(v) else "MISS") for v in vals]
    return "/".join(vs)


def build_table(R, cards, variant_names):
    rows = []  # (metric, [per card values], target text, verdict)

    def row(label, getter, nd=0, target="", ok=None):
        vals = []
        for c in cards:
            try:
                vals.append(getter(R["cards"][c]))
            except (KeyError, TypeError, ZeroDivisionError):
                vals.append(None)
        rows.append((label, [fmt(v, nd) for v in vals], target, verdict(vals, ok) if ok else ""))

    W = lambda name: (lambda c: c["worker"][name])  # noqa: E731
    base = W("baseline")
    ceil_s = lambda c: c["ceiling"]["single"]["docs_per_s"]  # noqa: E731
    ceil_b = lambda c: c["ceiling"]["batch"]["docs_per_s"]  # noqa: E731
    rows.append(("-- sink ceiling (wrk -> Cosmos front)", [], "", ""))
    row("single upserts, docs/s", ceil_s)
    row("batches of 100, docs/s", ceil_b)
    for key in sorted({k for c in cards for k in R["cards"][c]["ceiling"] if k.startswith("batch_r")},
                      key=lambda k: int(k[7:])):
        row(f"batches of 100 on {key[7:]} ranges (one range's ops each), docs/s",
            lambda c, key=key: c["ceiling"][key]["docs_per_s"])
    row("kcat -C read, msgs/s", lambda c: c["kcat_read"]["msgs_per_s"])
    row("kcat -C read, CPU us/msg", lambda c: c["kcat_read"]["cpu_us_per_msg"], 2)
    t = TARGETS
    for name in [n for n in ["baseline", "metrics_off"] + list(variant_names) if any(n in R["cards"][c]["worker"] for c in cards)]:
        w = W(name)
        rows.append((f"-- worker: {name}" + (f" ({' '.join(f'{k}={v}' for k, v in R['cards'][cards[0]]['worker'][name]['extra_env'].items())})" if name in variant_names else ""), [], "", ""))
        row("e2e orders/s, exec -> all committed", lambda c: w(c)["orders_per_s_total"])
        row("e2e orders/s, assigned -> all committed", lambda c: w(c)["orders_per_s_steady"])
        row("  ratio to ceiling, single (steady)", lambda c: w(c)["orders_per_s_steady"] / ceil_s(c), 2,
            f">= {t['ratio_ceiling']}", lambda v: v >= t["ratio_ceiling"])
        row("  ratio to ceiling, batched (steady)", lambda c: w(c)["orders_per_s_steady"] / ceil_b(c), 2,
            f">= {t['ratio_ceiling']}", lambda v: v >= t["ratio_ceiling"])
        row("  ratio to ceiling, single (incl. start)", lambda c: w(c)["orders_per_s_total"] / ceil_s(c), 2)
        row("  ratio to ceiling, batched on as many ranges (steady)",
            lambda c: w(c)["orders_per_s_steady"] / (c["ceiling"]["batch"] if w(c)["ranges"] == 1 else
                                                     c["ceiling"][f"batch_r{w(c)['ranges']}"])["docs_per_s"], 2,
            f">= {t['ratio_ceiling']}", lambda v: v >= t["ratio_ceiling"])
        row("worker CPU us/order, whole run", lambda c: w(c)["cpu_us_per_order_total"], 1,
            f"<= {t['cpu_us_per_order']:g}", lambda v: v <= t["cpu_us_per_order"])
        row("worker CPU us/order, after /readyz", lambda c: w(c)["cpu_us_per_order_after_ready"], 1,
            f"<= {t['cpu_us_per_order']:g}", lambda v: v <= t["cpu_us_per_order"])
        row("  ratio worker CPU / kcat -C CPU", lambda c: w(c)["cpu_us_per_order_total"] / c["kcat_read"]["cpu_us_per_msg"], 1)
        row("peak RSS MB (VmHWM)", lambda c: w(c)["vmhwm_kb"] / 1024, 1, f"<= {t['rss_mb']:g}",
            lambda v: v <= t["rss_mb"])
        row("HTTP requests / 100 orders", lambda c: w(c)["http_requests_per_100"], 2, f"<= {t['http_per_100']:g}",
            lambda v: v <= t["http_per_100"])
        row("partition key ranges of the container", lambda c: w(c)["ranges"])
        row("write requests / 100 orders (front)", lambda c: w(c)["write_requests_per_100"], 2)
        row("operations / write request (front)", lambda c: w(c)["ops_per_request"], 1,
            ">= 50 (16 ranges)", lambda v: v >= 50)
        row("requests the front refused", lambda c: sum(w(c)["front_refused"].values()), 0, "0", lambda v: v == 0)
        row("exec -> 'worker started' ms (excl. join)", lambda c: w(c)["exec_to_started_ms"], 0,
            f"< {t['start_ms']:g}", lambda v: v < t["start_ms"])
        row("group join ms (started -> assigned)", lambda c: w(c)["group_join_ms"])
        row("exec -> 'partitions assigned' ms", lambda c: w(c)["exec_to_assigned_ms"])
        row("exec -> /readyz 200 ms", lambda c: w(c)["exec_to_readyz_ms"])
        for ph, _, _ in START_PHASES:
            row(f"  start: {ph} ms", lambda c, ph=ph: w(c)["start_phases_ms"][ph])
        row("exit code", lambda c: w(c)["exit_code"])
        if name != "baseline":
            row(f"  {name} / baseline, orders/s (steady)", lambda c: w(c)["orders_per_s_steady"] / base(c)["orders_per_s_steady"], 2)
            row(f"  {name} / baseline, CPU/order", lambda c: w(c)["cpu_us_per_order_total"] / base(c)["cpu_us_per_order_total"], 2)
    return rows


def print_report(R, rows, cards):
    P = print
    m, v = R["machine"], R["versions"]
    P(f"\n==== ordersink bench  label={R['label']}  {R['timestamp']}  ({'quick' if R['quick'] else 'full'} run, "
      f"{R['total_seconds']:.0f} s total, rig up in {R['rig_start_seconds']:.1f} s)")
    P(f"machine : {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_gb']} GB RAM, {m['os']}, Linux {m['kernel']}")
    P(f"versions: {v['worker']}")
    P(f"          kafka {v['kafka']}, @vercel/cosmosdb-server {v['cosmosdb_server']} (node {v['node']}), "
      f"{v['wrk']}, {v['kcat']}")
    P("notes   : wrk 4.1 does NOT verify the server certificate (SSL_VERIFY_NONE) - fine for a load generator; "
      "the worker verifies with COSMOS_CA_FILE.")
    P("          'exec -> all committed' = Popen of bin/worker until committed offsets == high watermarks "
      f"(polled every {R['config']['poll_ms']} ms, +-1 poll); 'assigned' = ts of the first 'partitions assigned' log line.")
    P(f"          ceiling: wrk -t{R['config']['wrk_threads']} -c{R['config']['connections']} -d{R['config']['wrk_seconds']}s "
      "replaying the worker's documents (order + id + kafka{}) in a loop (repeats = upsert-replace).")
    P("          CPU: /proc/PID/stat utime+stime at all-committed (whole run incl. start-up) / orders; "
      "'after /readyz' subtracts the CPU read when /readyz first answered 200.")
    P("commands:")
    for c in R["commands"]:
        P("  " + c)
    hdr = ["metric"] + [f"{c} ({R['cards'][c]['customers']:,} cust)" for c in cards] + ["target", "result"]
    widths = [44] + [22] * len(cards) + [10, 10]
    line = lambda cells: "  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w) for i, (x, w) in enumerate(zip(cells, widths)))  # noqa: E731
    P()
    P(f"orders per run: {R['config']['orders']:,} x ~1 KB, {PARTITIONS} partitions; worker runs per variant: "
      f"{R['config']['repeat']} (median by steady orders/s)")
    P(line(hdr))
    P("-" * (sum(widths) + 2 * (len(widths) - 1)))
    for label, vals, target, res in rows:
        if not vals:
            P(label)
            continue
        P(line([label] + vals + [target, res]))
    pb = R.get("producer")
    if pb:
        P(producer_table(pb))
    P()


def producer_table(pb):
    """The producer against kcat -P, one line per alternating run, then the verdict."""
    has215 = "kcat_2_15" in pb["runs"][0]
    out = [f"-- producer: {pb['orders']:,} orders of ~{pb['avg_value_bytes']:.0f} B, 6 partitions, same keys; "
           "both with " + ", ".join(f"{k}={v}" for k, v in pb["settings"].items()),
           "   exec -> exit orders/s; CPU = user + sys per order (wait4); kcat -P is Debian's (librdkafka 2.0.2)"
           + ("; 'kcat 2.15.1' = the same kcat on the bench's librdkafka 2.15.1" if has215 else "")]
    hdr = ["run", "producer/s", "kcat -P/s", "ratio", "producer us", "kcat us", "CPU ratio"]
    if has215:
        hdr += ["kcat 2.15.1/s", "us"]
    w = [5, 12, 12, 7, 12, 9, 10, 14, 7]
    fmtl = lambda cells: " ".join(str(c).rjust(x) for c, x in zip(cells, w))  # noqa: E731
    out.append(fmtl(hdr))
    for i, r in enumerate(pb["runs"]):
        p, k = r["producer"], r["kcat"]
        cells = [i + 1, f"{p['per_s']:,.0f}", f"{k['per_s']:,.0f}", f"{r['ratio']:.2f}", f"{p['cpu_us']:.2f}",
                 f"{k['cpu_us']:.2f}", f"{r['cpu_ratio']:.2f}"]
        if has215:
            cells += [f"{r['kcat_2_15']['per_s']:,.0f}", f"{r['kcat_2_15']['cpu_us']:.2f}"]
        out.append(fmtl(cells))
    if len(pb["runs"]) > 1:
        med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
        rs = pb["runs"]
        cells = ["med", f"{med([r['producer']['per_s'] for r in rs]):,.0f}", f"{med([r['kcat']['per_s'] for r in rs]):,.0f}",
                 f"{med([r['ratio'] for r in rs]):.2f}", f"{med([r['producer']['cpu_us'] for r in rs]):.2f}",
                 f"{med([r['kcat']['cpu_us'] for r in rs]):.2f}", f"{med([r['cpu_ratio'] for r in rs]):.2f}"]
        if has215:
            cells += [f"{med([r['kcat_2_15']['per_s'] for r in rs]):,.0f}", f"{med([r['kcat_2_15']['cpu_us'] for r in rs]):.2f}"]
        out.append(fmtl(cells))
    out.append(f"target: ratio >= {TARGETS['producer_ratio']} and CPU ratio <= {TARGETS['producer_cpu_ratio']} "
               f"in every run: {'pass' if pb['pass'] else 'MISS'}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small N: a smoke run in < 2 min")
    ap.add_argument("--worker-env", action="append", default=[], metavar="K=V",
                    help="extra worker setting for a variant run, compared with the baseline (repeatable)")
    ap.add_argument("--variant-name", default="variant", help="name of the --worker-env run in the table")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME:K=V[,K=V...]",
                    help="another named worker variant, e.g. single:ORDERSINK_COSMOS_BULK=0 (repeatable)")
    ap.add_argument("--no-consumer-protocol", dest="consumer_protocol", action="store_false",
                    help="skip the run with kafka.group_protocol=consumer (KIP-848)")
    ap.add_argument("--label", default="", help="free text stored with the results")
    ap.add_argument("--orders", type=int, help="orders per worker run (default 30000, --quick 3000)")
    ap.add_argument("--producer-count", type=int, help="orders for the producer benchmark (default 200000, quick 20000)")
    ap.add_argument("--repeat", type=int, default=1, help="worker runs per variant (median reported)")
    ap.add_argument("--wrk-seconds", type=int, help="duration of each wrk run (default 5, quick 2)")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--poll-ms", type=int, default=100, help="committed-offsets poll interval")
    ap.add_argument("--worker-timeout", type=int, default=180)
    ap.add_argument("--no-metrics-off", dest="metrics_off", action="store_false",
                    help="skip the run with the metrics endpoint off")
    ap.add_argument("--cards", default="low,high", help="low,high or one of them")
    ap.add_argument("--no-producer", dest="producer", action="store_false")
    ap.add_argument("--producer-runs", type=int, default=3,
                    help="alternating runs of bin/producer and kcat -P (default 3)")
    ap.add_argument("--producer-bin", metavar="PATH", help="another bin/producer build (e.g. before/after a change)")
    ap.add_argument("--only-producer", action="store_true",
                    help="only the producer against kcat -P (no worker, no sink ceiling)")
    ap.add_argument("--keep-rig", action="store_true", help="keep the rig's directory (Kafka data, logs)")
    ap.add_argument("--attach", metavar="RUN_DIR", help="(development) use a rig already running in RUN_DIR")
    ap.add_argument("--cost", action="store_true",
                    help="also the cost per order (tests/bench/cost.py): instructions and CPU per order vs kcat -C, "
                         "the non-storing sink's orders/s per core")
    ap.add_argument("--cost-orders", type=int, default=20000, help="orders per --cost run (default 20000)")
    a = ap.parse_args()
    a.orders = a.orders or (3000 if a.quick else 30000)
    a.producer_count = a.producer_count or (20000 if a.quick else 200000)
    a.wrk_seconds = a.wrk_seconds or (2 if a.quick else 5)
    a.worker_env_pairs = []
    for kv in a.worker_env:
        if "=" not in kv:
            ap.error(f"--worker-env {kv}: expected K=V")
        a.worker_env_pairs.append(tuple(kv.split("=", 1)))
    a.variants = []
    if a.worker_env_pairs:
        a.variants.append((a.variant_name, dict(a.worker_env_pairs)))
    for spec in a.variant:
        name, _, kvs = spec.partition(":")
        pairs = [kv.split("=", 1) for kv in kvs.split(",") if kv]
        if not name or not pairs or any(len(p) != 2 for p in pairs) or name in ("baseline", "metrics_off"):
            ap.error(f"--variant {spec}: expected NAME:K=V[,K=V...]")
        a.variants.append((name, dict(pairs)))
    if a.consumer_protocol:
        a.variants.append(("consumer_protocol", {"ORDERSINK_KAFKA_GROUP_PROTOCOL": "consumer"}))
    if len({n for n, _ in a.variants}) != len(a.variants):
        ap.error("variant names must differ")
    if a.orders > 30000:
        log("note: more than ~30k documents per container makes the in-memory Cosmos slow down")

    t_start = time.monotonic()
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    outroot = os.path.join(REPO, "build", "bench")
    outdir = os.path.join(outroot, f"run-{ts}")
    os.makedirs(os.path.join(outdir, "bin"), exist_ok=True)
    # private copies: others may rebuild bin/ while the bench runs
    for b in ("worker", "producer"):
        src = os.path.join(REPO, "bin", b)
        if not os.access(src, os.X_OK):
            sys.exit(f"bench: {src} missing: run make all")
        if b == "producer" and a.producer_bin:
            src = a.producer_bin
        subprocess.run(["cp", "-p", src, os.path.join(outdir, "bin", b)], check=True)
    worker_bin = os.path.join(outdir, "bin", "worker")
    known = cmd_out([worker_bin, "--print-settings"])
    unknown = [k for _, venv in a.variants for k in venv if k.startswith("ORDERSINK_") and not k.startswith("ORDERSINK_LIBRDKAFKA_")
               and k not in known]
    if unknown:
        log(f"WARNING: {', '.join(unknown)} not listed by this build's --print-settings: the worker will ignore it")

    rig = Rig()
    if a.attach:
        rig.run_dir = a.attach
        with open(os.path.join(a.attach, "rig.env")) as f:
            rig.env = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)
        rig._http.verify = rig.env["COSMOS_CA_FILE"]
        rig.start_seconds = 0.0
    else:
        rig.start(os.path.join(outdir, "rig"))
    SECRETS.update({k: v for k, v in rig.secrets().items() if "(" not in k})
    bench = Bench(a, rig, outdir)
    bench.children = []
    R = {"label": a.label, "timestamp": ts, "quick": a.quick, "machine": machine_info(),
         "versions": versions(worker_bin, rig), "rig_start_seconds": rig.start_seconds,
         "config": {"orders": a.orders, "producer_count": a.producer_count, "producer_runs": a.producer_runs,
                    "wrk_seconds": a.wrk_seconds,
                    "wrk_threads": a.wrk_threads, "connections": bench.max_in_flight, "poll_ms": a.poll_ms,
                    "repeat": a.repeat, "variants": dict(a.variants),
                    "unknown_worker_env": unknown},
         "targets": TARGETS, "cards": {}, "commands": COMMANDS, "errors": []}
    cards = [] if a.only_producer else [c for c in a.cards.split(",") if c]
    rc = 0
    try:
        rig.create_database(DB)
        if cards:
            bench.warm_up()
        for i, card in enumerate(cards):
            customers = {"low": 100, "high": 1_000_000}[card]
            try:
                R["cards"][card] = bench.cardinality(card, customers, seed=1 + i)
            except Exception as e:  # noqa: BLE001
                R["errors"].append(f"{card}: {e}")
                log(f"ERROR {card}: {e}")
                rc = 1
        if a.cost and not a.only_producer:
            try:
                R["cost"] = cost.run(argparse.Namespace(orders=3000 if a.quick else a.cost_orders, rate=2000, timeout=600,
                                                        backlog_orders=3000 if a.quick else 100000,
                                                        producer=bench.producer_bin, workers=[("worker", worker_bin)]),
                                     rig, outdir)
            except Exception as e:  # noqa: BLE001
                R["errors"].append(f"cost: {e}")
                log(f"ERROR cost: {e}")
                rc = 1
        if a.producer or a.only_producer:
            try:
                R["producer"] = bench.producer_bench()
            except Exception as e:  # noqa: BLE001
                R["errors"].append(f"producer: {e}")
                log(f"ERROR producer: {e}")
                rc = 1
    finally:
        for p in list(bench.children):
            if p.poll() is None:
                p.kill()
                p.wait()
        if not a.attach:
            rig.stop()
            if not a.keep_rig:  # Kafka's log segments and the rig's files: hundreds of MB
                subprocess.run(["rm", "-rf", os.path.join(outdir, "rig")], check=False)
    R["total_seconds"] = time.monotonic() - t_start
    cards_ok = [c for c in cards if c in R["cards"]]
    rows = build_table(R, cards_ok, [n for n, _ in a.variants]) if cards_ok else []
    R["table"] = [{"metric": l, "values": dict(zip(cards_ok, v)), "target": t, "result": r} for l, v, t, r in rows]
    print_report(R, rows, cards_ok)
    if R.get("cost"):
        print(cost.table(R["cost"]) + "\n")
    for e in R["errors"]:
        print(f"ERROR: {e}")
    for path in (os.path.join(outroot, f"results-{ts}.json"), os.path.join(outroot, "latest.json")):
        with open(path, "w") as f:
            json.dump(R, f, indent=1, default=str)
    print(f"results: build/bench/results-{ts}.json (and build/bench/latest.json); logs in {os.path.relpath(outdir, REPO)}")
    # the large data files are not needed after the run
    for f in os.listdir(outdir):
        if f.endswith((".jsonl", ".txt")):
            os.unlink(os.path.join(outdir, f))
    return rc


if __name__ == "__main__":
    sys.exit(main())
