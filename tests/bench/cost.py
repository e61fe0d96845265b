"""Cost per order (issue 17 item 2): instructions and CPU per order of the worker against `kcat -C`
reading the same messages, in the same run. Used by `make bench BENCH_ARGS=--cost` (tests/bench/run.py)
and standalone, to compare builds on one rig:

    .cache/venv/bin/python tests/bench/cost.py --worker before=/tmp/worker-old --worker after=bin/worker

Figures, per worker build:
  * instructions per order (callgrind, every thread): the worker starts under valgrind on an empty
    6-partition topic; once its partitions are assigned the counters are zeroed, N producer-made 1 KB
    orders are written (much faster than the instrumented worker drains them: a backlog), and the
    counters are dumped when every offset is committed; total / N, and by component;
  * the floor: `kcat -C` under callgrind reading the same N messages, minus a read of 1 message
    (its start-up), / (N - 1);
  * CPU us per order, natively: at full speed (backlog written after assignment) and at a fixed rate
    (--rate orders/s), utime + stime from /proc between assignment and all committed; kcat -C the same
    way (full read minus a 1-message read);
  * with the front's non-storing sink (tests/rig/nostore.js): orders/s end to end and per worker
    core (orders / worker CPU seconds) at full speed;
  * with --rounds R, the non-storing backlog runs again R times, builds alternating, kcat -C in every
    round: medians of CPU per order and of its ratio to kcat -C within a round;
  * on a preloaded backlog, measured as the kcat -C floor is: the whole worker process (exec to all
    committed) reading N orders minus one reading 1 order, / (N - 1), with the stored and with the
    non-storing sink: the like-for-like comparison with kcat -C (nothing else writes meanwhile), and
    orders/s from assignment to all committed.
Results: build/bench/cost-<worker version>.json (one file per commit), printed as a table.
"""
import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from rig import REPO, Rig  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
import requests  # noqa: E402

PARTITIONS = 6
CLK_TCK = os.sysconf("SC_CLK_TCK")
DB = "cost"
# Components of a callgrind profile: the first pattern that matches "file:function [object]" wins
# (code inlined from a header is listed under the header's file and the function it is in).
COMPONENTS = [
    ("order (lib/order, json_scan, json_str)", r"lib/(order|json_scan|json_str)\.c|:(order|jscan|jstr)_"),
    ("cJSON", r"cJSON|libcjson"),
    ("TLS + crypto (OpenSSL)", r"libssl|libcrypto"),
    ("curl", r"libcurl|:Curl_|:curl_"),
    ("librdkafka", r"librdkafka|:rd_|/rd[a-z_]*\.[ch]:"),
    ("compression (zlib, zstd, lz4)", r"libz\.|libzstd|liblz4"),
    ("worker (other lib/, worker/)", r"lib/[a-z_]+\.c|worker/main\.c|:(cosmos|pipeline|batch|commit|kafka|metrics|"
                                     r"health|dlq|log|lag|watermarks|aimd|retry|pace)_"),
    ("libc (malloc, memcpy, printf, locks, syscalls)",
     r"libc\.so|ld-linux|vdso|^\./(stdio-common|libio|malloc|nptl|stdlib|string|misc|elf|posix|time)/|sysdeps"),
]

# Frames that were on a stack when the counters were zeroed: callgrind reports them with the
# inclusive cost of what ran below them, not their own.
ROOTS = r"\(below main\)|__libc_start_main|start_thread|clone\.S:|ld-linux-x86-64\.so\.2\]$"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def proc_cpu_s(pid, part=None):
    """utime + stime of pid in seconds (part "user" or "sys": only that one)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    user, sys_ = int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
    return {"user": user, "sys": sys_}.get(part, user + sys_)


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def components(path):
    """Instructions by component (self cost, callgrind_annotate) of one callgrind output file."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--auto=no", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    total = callgrind_total(path)
    res = {name: 0 for name, _ in COMPONENTS}
    res["other"] = 0
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", line)
        if not m or ":" not in m.group(2):
            continue
        ir, what = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in what or re.search(ROOTS, what):
            continue
        name = next((n for n, pat in COMPONENTS if re.search(pat, what)), "other")
        res[name] += ir
    res["other"] += total - sum(res.values())
    return res


class Cost:
    def __init__(self, args, rig, out):
        self.a, self.rig, self.out = args, rig, out
        self.bins = {}

    def preload(self, topic, rate=0):
        env = {**os.environ, "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": self.rig.bootstrap}
        argv = [self.a.producer, "--size", "1024", "--seed", "7", "--customers", "1000", "--count",
                str(self.a.orders), "--rate", str(rate), "--topic", topic]
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def committed_reader(self, group, topic):
        """A function returning the group's committed total for topic (one client for the whole run:
        a client per check would add its own threads and connections to what is measured)."""
        c = Consumer({"bootstrap.servers": self.rig.bootstrap, "group.id": group, "enable.auto.commit": False})
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        read = lambda: sum(max(tp.offset, 0) for tp in c.committed(tps, timeout=10))  # noqa: E731
        read.close = c.close
        return read

    def backlog(self, bin_path, name, count, nostore=False):
        """The worker reading a preloaded topic of count orders, stopped (SIGTERM) once all are committed:
        its whole CPU from exec to exit (wait4: every thread, in microseconds), wall seconds from
        assignment to all committed."""
        topic, group = f"cost-{name}-{uuid.uuid4().hex[:6]}", f"cost-{uuid.uuid4().hex[:6]}"
        coll = f"c-{uuid.uuid4().hex[:6]}"
        self.rig.create_topic(topic, PARTITIONS)
        self.rig.create_topic(topic + ".dlq", 1)
        self.rig.create_container(DB, coll)
        env = {**os.environ, "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": self.rig.bootstrap}
        subprocess.run([self.a.producer, "--size", "1024", "--seed", "7", "--customers", "1000", "--count",
                        str(count), "--rate", "0", "--topic", topic], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if count > 1:
            self.backlog_topic = (topic, count)
        requests.post(self.rig.env["COSMOS_ADMIN"] + "/nostore", json={"enabled": nostore}, timeout=10).raise_for_status()
        wenv = {**os.environ, **self.rig.worker_env(topic, group, DB, coll), **getattr(self.a, "worker_env", {})}
        logp = os.path.join(self.out, f"worker-{name}.log")
        committed = self.committed_reader(group, topic)
        with open(logp, "wb") as lf:
            p = subprocess.Popen([bin_path], env=wenv, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline, t_assigned = time.monotonic() + self.a.timeout, None
            while True:
                if t_assigned is None and b"partitions assigned" in open(logp, "rb").read():
                    t_assigned = time.monotonic()
                if committed() >= count:
                    break
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} did not commit {count}; see {logp}")
                time.sleep(0.02)
            wall = time.monotonic() - (t_assigned or time.monotonic())
            p.send_signal(signal.SIGTERM)
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0:
                raise RuntimeError(f"worker {name} exited {p.returncode}; see {logp}")
            return {"cpu_s": ru.ru_utime + ru.ru_stime, "sys_s": ru.ru_stime, "wall_s": wall}
        finally:
            committed.close()
            self.end_run(p, coll)

    def worker_backlog(self, bin_path, name, nostore=False):
        """CPU per order on a preloaded backlog: (N-order run - 1-order run) / (N - 1), as kcat_floor."""
        n = getattr(self.a, "backlog_orders", self.a.orders)
        full = self.backlog(bin_path, name + "-n", n, nostore)
        one = self.backlog(bin_path, name + "-1", 1, nostore)
        return {"orders": n, "nostore": nostore, "wall_s": full["wall_s"], "orders_per_s": n / full["wall_s"],
                "cpu_us_per_order": (full["cpu_s"] - one["cpu_s"]) / (n - 1) * 1e6,
                "sys_us_per_order": (full["sys_s"] - one["sys_s"]) / (n - 1) * 1e6,
                "startup_cpu_s": one["cpu_s"]}

    def worker(self, bin_path, name, valgrind=False, rate=0, nostore=False):
        """One worker run: (dict of figures). The topic is empty until the worker is assigned."""
        topic, group = f"cost-{name}-{uuid.uuid4().hex[:6]}", f"cost-{uuid.uuid4().hex[:6]}"
        coll = f"c-{uuid.uuid4().hex[:6]}"
        self.rig.create_topic(topic, PARTITIONS)
        self.rig.create_topic(topic + ".dlq", 1)
        self.rig.create_container(DB, coll)
        requests.post(self.rig.env["COSMOS_ADMIN"] + "/nostore", json={"enabled": nostore}, timeout=10).raise_for_status()
        env = {**os.environ, **self.rig.worker_env(topic, group, DB, coll), **getattr(self.a, "worker_env", {})}
        logp = os.path.join(self.out, f"worker-{name}.log")
        cg = os.path.join(self.out, f"callgrind-{name}.out")
        argv = [bin_path]
        if valgrind:
            argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}", "--dump-instr=no"] + argv
        with open(logp, "wb") as lf:
            p = subprocess.Popen(argv, env=env, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + (120 if valgrind else 30)
            while b"partitions assigned" not in open(logp, "rb").read():
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} not assigned; see {logp}")
                time.sleep(0.05)
            if valgrind:
                subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True, capture_output=True)
            self.rig.reset_stats()
            committed = self.committed_reader(group, topic)
            cpu0, t0, sys0 = proc_cpu_s(p.pid), time.monotonic(), proc_cpu_s(p.pid, "sys")
            prod = self.preload(topic, rate)
            deadline = time.monotonic() + self.a.timeout
            while committed() < self.a.orders:
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} did not commit {self.a.orders}; see {logp}")
                time.sleep(0.1)
            wall, cpu, sys_s = time.monotonic() - t0, proc_cpu_s(p.pid) - cpu0, proc_cpu_s(p.pid, "sys") - sys0
            committed.close()
            prod.wait(60)
            st = self.rig.stats()
            res = {"orders": self.a.orders, "wall_s": wall, "cpu_s": cpu, "rate": rate, "nostore": nostore,
                   "cpu_us_per_order": cpu / self.a.orders * 1e6, "orders_per_s": self.a.orders / wall,
                   "sys_us_per_order": sys_s / self.a.orders * 1e6,
                   "orders_per_cpu_s": self.a.orders / cpu if cpu else None,
                   "http_requests": st["requests"], "tls_full": st.get("tls_full", 0),
                   "tls_resumed": st.get("tls_resumed", 0)}
            if valgrind:
                for f in glob.glob(cg + "*"):
                    os.unlink(f)
                subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
                dumps = sorted(glob.glob(cg + ".*"))
                if not dumps:
                    raise RuntimeError("no callgrind dump")
                ir = callgrind_total(dumps[-1])
                res.update({"instructions": ir, "instructions_per_order": ir / self.a.orders,
                            "components_per_order": {k: v / self.a.orders for k, v in components(dumps[-1]).items()}})
            return res
        finally:
            self.end_run(p, coll)
            self.last_topic = topic

    def end_run(self, p, coll):
        """Stops worker p if it still runs (SIGTERM, then SIGKILL after 60 s), turns the non-storing sink
        off and drops the run's container."""
        if p.returncode is None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        requests.post(self.rig.env["COSMOS_ADMIN"] + "/nostore", json={"enabled": False}, timeout=10)
        self.rig.cosmos_request("DELETE", f"/dbs/{DB}/colls/{coll}")

    def kcat(self, topic, count=None, valgrind=False):
        argv = ["kcat", "-C", "-b", self.rig.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"]
        if count:
            argv += ["-c", str(count)]
        cg = os.path.join(self.out, f"callgrind-kcat-{count or 'all'}.out")
        if valgrind:
            argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}"] + argv
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise RuntimeError(f"kcat failed: {argv}")
        return {"cpu_s": ru.ru_utime + ru.ru_stime, "wall_s": time.monotonic() - t0,
                "instructions": callgrind_total(cg) if valgrind else None}

    def kcat_floor(self, topic):
        """Instructions per message on topic (callgrind), CPU per message natively on the preloaded
        backlog topic when there is one (the same messages the backlog runs read), else on topic."""
        n = self.a.orders
        full, one = self.kcat(topic, valgrind=True), self.kcat(topic, 1, valgrind=True)
        ntopic, nn = getattr(self, "backlog_topic", (topic, n))
        cpu = sorted((self.kcat(ntopic)["cpu_s"] - self.kcat(ntopic, 1)["cpu_s"]) for _ in range(3))[1]
        return {"instructions_per_msg": (full["instructions"] - one["instructions"]) / (n - 1),
                "startup_instructions": one["instructions"], "cpu_us_per_msg": cpu / (nn - 1) * 1e6,
                "cpu_messages": nn}


def run(args, rig, out):
    """All the figures for each --worker build; returns the results dict."""
    rig.create_database(DB)
    c = Cost(args, rig, out)
    R = {"orders": args.orders, "rate": args.rate, "workers": {},
         "backlog_orders": getattr(args, "backlog_orders", args.orders)}
    for name, path in args.workers:
        log(f"== cost: {name} ({path})")
        w = {"version": subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()}
        w["callgrind"] = c.worker(path, name + "-cg", valgrind=True)
        w["full_speed"] = c.worker(path, name + "-full")
        w["fixed_rate"] = c.worker(path, name + "-rate", rate=args.rate)
        w["nostore"] = c.worker(path, name + "-nostore", nostore=True)
        w["backlog"] = c.worker_backlog(path, name + "-backlog")
        w["backlog_nostore"] = c.worker_backlog(path, name + "-backlog-nostore", nostore=True)
        w["stored"] = w["full_speed"]
        R["workers"][name] = w
        log(f"  {w['callgrind']['instructions_per_order']:.0f} instr/order, "
            f"{w['full_speed']['cpu_us_per_order']:.1f} us/order full, {w['fixed_rate']['cpu_us_per_order']:.1f} at "
            f"{args.rate}/s, nostore {w['nostore']['orders_per_s']:.0f} orders/s, "
            f"{w['nostore']['orders_per_cpu_s']:.0f} per core")
    R["kcat"] = c.kcat_floor(c.last_topic)
    if getattr(args, "rounds", 1) > 1:
        R["alternating"] = alternating(c, args)
    return R


def alternating(c, args):
    """--rounds R: the non-storing backlog run of every build again, R rounds, who goes first alternating,
    each round with the kcat -C floor on its backlog; medians. Native CPU moves with the machine's pace
    from one minute to the next: ratios within one round are the figures to read."""
    names = [n for n, _ in args.workers]
    rounds = []
    for r in range(args.rounds):
        order = args.workers if r % 2 == 0 else args.workers[::-1]
        rnd = {name: c.worker_backlog(path, f"{name}-alt{r + 1}", nostore=True)["cpu_us_per_order"]
               for name, path in order}
        topic, n = c.backlog_topic
        rnd["kcat"] = sorted((c.kcat(topic)["cpu_s"] - c.kcat(topic, 1)["cpu_s"]) for _ in range(3))[1] / (n - 1) * 1e6
        log(f"  round {r + 1}: " + ", ".join(f"{k} {v:.2f} us" for k, v in rnd.items()))
        rounds.append(rnd)
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    return {"rounds": rounds, "median": {k: med([rnd[k] for rnd in rounds]) for k in names + ["kcat"]},
            "median_ratio_to_kcat": {k: med([rnd[k] / rnd["kcat"] for rnd in rounds]) for k in names}}


def table(R):
    k = R["kcat"]
    lines = [f"cost per order: {R['orders']:,} orders of 1 KB, 6 partitions (preloaded backlogs: "
             f"{R.get('backlog_orders', R['orders']):,}); kcat -C floor: {k['instructions_per_msg']:,.0f} "
             f"instructions/msg, {k['cpu_us_per_msg']:.2f} us CPU/msg (on {k.get('cpu_messages', R['orders']):,})"]
    names = list(R["workers"])
    row = lambda label, vals: lines.append(f"{label:<52}" + "".join(f"{v:>18}" for v in vals))  # noqa: E731
    row("", names)
    W = [R["workers"][n] for n in names]
    row("instructions / order (callgrind, all threads)", [f"{w['callgrind']['instructions_per_order']:,.0f}" for w in W])
    row("  ratio to kcat -C", [f"{w['callgrind']['instructions_per_order'] / k['instructions_per_msg']:.1f}" for w in W])
    for comp in W[0]["callgrind"]["components_per_order"]:
        row(f"  {comp}", [f"{w['callgrind']['components_per_order'].get(comp, 0):,.0f}" for w in W])
    row("CPU us / order, full speed (stored sink)", [f"{w['full_speed']['cpu_us_per_order']:.2f}" for w in W])
    row("  of which in the kernel (stime)", [f"{w['full_speed'].get('sys_us_per_order', 0):.2f}" for w in W])
    row("  ratio to kcat -C", [f"{w['full_speed']['cpu_us_per_order'] / k['cpu_us_per_msg']:.1f}" for w in W])
    row(f"CPU us / order, at {R['rate']:,} orders/s", [f"{w['fixed_rate']['cpu_us_per_order']:.2f}" for w in W])
    row("  ratio to kcat -C", [f"{w['fixed_rate']['cpu_us_per_order'] / k['cpu_us_per_msg']:.1f}" for w in W])
    row("stored sink: orders/s (assigned -> all committed)", [f"{w['full_speed']['orders_per_s']:,.0f}" for w in W])
    row("non-storing sink: orders/s", [f"{w['nostore']['orders_per_s']:,.0f}" for w in W])
    row("non-storing sink: orders/s per worker core", [f"{w['nostore']['orders_per_cpu_s']:,.0f}" for w in W])
    row("non-storing sink: CPU us / order", [f"{w['nostore']['cpu_us_per_order']:.2f}" for w in W])
    for key, what in (("backlog", "stored sink"), ("backlog_nostore", "non-storing sink")):
        if not all(key in w for w in W):
            continue
        row(f"preloaded backlog, {what}: CPU us / order", [f"{w[key]['cpu_us_per_order']:.2f}" for w in W])
        row("  of which in the kernel (stime)", [f"{w[key]['sys_us_per_order']:.2f}" for w in W])
        row("  ratio to kcat -C (same method)", [f"{w[key]['cpu_us_per_order'] / k['cpu_us_per_msg']:.1f}" for w in W])
        row(f"preloaded backlog, {what}: orders/s", [f"{w[key]['orders_per_s']:,.0f}" for w in W])
    if R.get("alternating"):
        A = R["alternating"]
        row(f"alternating backlog runs, non-storing, median of {len(A['rounds'])}: CPU us / order",
            [f"{A['median'][n]:.2f}" for n in names])
        row("  median ratio to kcat -C of the same round", [f"{A['median_ratio_to_kcat'][n]:.1f}" for n in names])
        row("  kcat -C CPU us / msg, median", [f"{A['median']['kcat']:.2f}"] + [""] * (len(names) - 1))
    row("TLS handshakes full / resumed (stored, full speed)",
        [f"{w['full_speed'].get('tls_full', 0)} / {w['full_speed'].get('tls_resumed', 0)}" for w in W])
    row("HTTP requests (stored, full speed)", [f"{w['full_speed'].get('http_requests', 0):,}" for w in W])
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="append", default=[], metavar="NAME=PATH",
                    help="a worker build to measure (repeatable; default current=bin/worker)")
    ap.add_argument("--producer", default=os.path.join(REPO, "bin", "producer"))
    ap.add_argument("--orders", type=int, default=20000)
    ap.add_argument("--rate", type=int, default=2000, help="orders/s of the fixed-rate run")
    ap.add_argument("--backlog-orders", type=int, default=100000,
                    help="orders of the preloaded-backlog runs (default 100000)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="R > 1: the non-storing backlog run of every build R more times, alternating, "
                         "with kcat -C in each round; medians (default 1: no such rounds)")
    ap.add_argument("--timeout", type=int, default=600)
    a = ap.parse_args()
    a.workers = [tuple(w.split("=", 1)) for w in a.worker] or [("current", os.path.join(REPO, "bin", "worker"))]
    out = os.path.join(REPO, "build", "bench", f"cost-run-{time.strftime('%Y%m%dT%H%M%S')}")
    os.makedirs(os.path.join(out, "bin"), exist_ok=True)
    # private copies: a rebuild of bin/ while the bench runs must not change what it measures
    copies = []
    for name, path in a.workers:
        copy = os.path.join(out, "bin", f"worker-{name}")
        subprocess.run(["cp", "-p", path, copy], check=True)
        copies.append((name, copy))
    a.workers = copies
    subprocess.run(["cp", "-p", a.producer, os.path.join(out, "bin", "producer")], check=True)
    a.producer = os.path.join(out, "bin", "producer")
    rig = Rig().start(os.path.join(out, "rig"))
    try:
        R = run(a, rig, out)
    finally:
        rig.stop()
        subprocess.run(["rm", "-rf", os.path.join(out, "rig")], check=False)
    print(table(R))
    ver = re.sub(r"[^\w.-]", "_", (R["workers"][a.workers[-1][0]]["version"].split() or ["dev"])[1 if False else 0])
    m = re.search(r"worker\s+(\S+)", R["workers"][a.workers[-1][0]]["version"])
    ver = re.sub(r"[^\w.-]", "_", m.group(1)) if m else ver
    path = os.path.join(REPO, "build", "bench", f"cost-{ver}.json")
    with open(path, "w") as f:
        json.dump(R, f, indent=1)
    print(f"results: {os.path.relpath(path, REPO)}")


if __name__ == "__main__":
    main()
