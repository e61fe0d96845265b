"""The alert rules and the Grafana dashboard against a real Prometheus (Debian's binary, unpacked by
tests/rig/deps.sh) scraping a worker on the rig every second.

- Every dashboard query and every alert/recording expression is evaluated through /api/v1/query and
  must return data of the expected shape.
- Faults make every alert fire (/api/v1/alerts) and resolve once they end: Cosmos answering 429 to
  90 % of the writes (OrdersinkCosmosThrottled), then to all of them while orders keep coming
  (OrdersinkNoProgress; OrdersinkLagGrowingAtMaxReplicas, the lag growing while the worker's
  partitions are paused for backpressure; OrdersinkConcurrencyLimitAtOne, the limit cut to 1 while
  no batch finishes), a burst of malformed orders of a reason never seen before
  (OrdersinkDeadLetters: every reason is exported at 0 from the start), an idle worker that is not
  scaled to zero (OrdersinkNotScaledToZero), a worker with a wrong Cosmos key restarted in a loop
  (OrdersinkCosmosAuthOrConfigFailure, OrdersinkWorkerRestarting). A watcher records when each
  alert starts and stops firing; the test prints the table (fault, time to firing, time to
  resolve).

Time is compressed: Prometheus loads a copy of k8s/components/monitoring/ordersink-rules.yaml with
every range, offset and `for:` divided by 30 (10m -> 20s); the shipped file keeps production values
(tested at that scale by `make monitoring-test`). The kube-state-metrics and KEDA series a local run
cannot have come from a stand-in exporter (StandIn below): it reports 1 replica out of a maximum of
1 while the worker runs, 0 once it is stopped, and the restarts and last exit code of the crash-
looping worker processes this test runs itself."""
import base64
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from helpers import order, setup_pipeline, wait_committed
from rig import REPO

PROMETHEUS = os.path.join(REPO, ".cache", "promtool", "usr", "bin", "prometheus")
MONITORING = os.path.join(REPO, "k8s", "components", "monitoring")
SCALE = 30  # production durations / SCALE in the test copy of the rules
NS, POD, CRASH_POD = "ordersink", "ordersink-worker-0", "ordersink-worker-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scaled(text):
    """The rules file with every duration in a range, offset or `for:` divided by SCALE."""
    def div(m):
        secs = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
        return f"{max(1, secs // SCALE)}s"
    dur = r"(\d+)([smh])"
    out, n1 = re.subn(rf"(?<=\[){dur}(?=[:\]])", div, text)
    out, n2 = re.subn(rf"(?<=offset ){dur}\b", div, out)
    out, n3 = re.subn(rf"(?<=for: ){dur}\b", div, out)
    assert n1 and n2 and n3, "nothing to scale: did the rules change shape?"
    return out


class StandIn:
    """Serves kube-state-metrics/KEDA series for the local run (see the module docstring)."""

    def __init__(self):
        self.replicas = 1
        self.restarts = 0
        self.exit_code = None
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = stand_in.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def render(self):
        dep = f'namespace="{NS}",deployment="ordersink-worker"'
        crash = f'namespace="{NS}",pod="{CRASH_POD}",container="worker"'
        lines = [f"kube_deployment_status_replicas{{{dep}}} {self.replicas}",
                 f"kube_deployment_spec_replicas{{{dep}}} {self.replicas}",
                 f'kube_horizontalpodautoscaler_spec_max_replicas{{namespace="{NS}",'
                 f'horizontalpodautoscaler="keda-hpa-ordersink-worker"}} 1',
                 f'keda_scaler_metrics_value{{namespace="{NS}",scaledObject="ordersink-worker",'
                 f'scaler="kafkaScaler",metric="s0-kafka-orders"}} 0',
                 f'kube_pod_container_status_restarts_total{{namespace="{NS}",pod="{POD}",container="worker"}} 0',
                 f"kube_pod_container_status_restarts_total{{{crash}}} {self.restarts}"]
        if self.exit_code is not None:
            lines.append(f"kube_pod_container_status_last_terminated_exitcode{{{crash}}} {self.exit_code}")
        return "\n".join(lines) + "\n"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Prometheus:
    def __init__(self, workdir, worker_port, stand_in_port):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        rules = os.path.join(workdir, "rules.yaml")
        with open(os.path.join(MONITORING, "ordersink-rules.yaml")) as f, open(rules, "w") as out:
            out.write(scaled(f.read()))
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as f:  # JSON is YAML
            json.dump({
                "global": {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"},
                "rule_files": [rules],
                "scrape_configs": [
                    # The labels the PodMonitor's target would carry.
                    {"job_name": "ordersink", "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"],
                                                                  "labels": {"namespace": NS, "pod": POD}}]},
                    {"job_name": "kube-state-metrics", "honor_labels": True,
                     "static_configs": [{"targets": [f"127.0.0.1:{stand_in_port}"]}]}]}, f)
        self.log_path = os.path.join(workdir, "prometheus.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(workdir, 'data')}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"prometheus exited {self.proc.returncode}; see {self.log_path}"
            try:
                if requests.get(self.url + "/-/ready", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready; see {self.log_path}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def api(self, path, **params):
        r = requests.get(self.url + "/api/v1/" + path, params=params, timeout=10)
        body = r.json()
        assert r.status_code == 200 and body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr):
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr}: {data['resultType']}"
        return data["result"]

    def rules(self):
        return [r for g in self.api("rules")["groups"] for r in g["rules"]]

    def alerts(self, state="firing"):
        return [a for a in self.api("alerts")["alerts"] if a["state"] == state]


def wait_for(predicate, timeout, what, prom=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.5)
    state = ""
    if prom is not None:  # what Prometheus saw, for the failure message
        state = "; active alerts: %s; lag: %s" % (
            [(a["labels"]["alertname"], a["state"]) for a in prom.api("alerts")["alerts"]],
            prom.query("ordersink:consumer_lag:sum"))
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{state}")


class AlertLog:
    """Polls /api/v1/alerts every half second from a thread: when each alert first fired and when
    it last stopped firing (monotonic seconds), for the table the test prints."""

    def __init__(self, prom):
        self.prom, self.fired, self.resolved = prom, {}, {}
        self.faults = {}  # alert -> (fault, fault start, fault end)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        active = set()
        while not self.stop.wait(0.5):
            try:
                now = time.monotonic()
                firing_now = {a["labels"]["alertname"] for a in self.prom.alerts()}
            except Exception:  # Prometheus going away at the end
                continue
            for name in firing_now - active:
                self.fired.setdefault(name, now)
            for name in active - firing_now:
                self.resolved[name] = now
            active = firing_now

    def fault(self, fault, start, end, *alerts):
        for a in alerts:
            self.faults[a] = (fault, start, end)

    def table(self):
        self.stop.set()
        self.thread.join()
        rows = ["alert | fault | firing after (s) | resolved after the fault ended (s)"]
        for name, (fault, start, end) in self.faults.items():
            fired = self.fired.get(name)
            resolved = self.resolved.get(name)
            rows.append("%s | %s | %s | %s" % (
                name, fault, "%.0f" % (fired - start) if fired else "-",
                "%.0f" % (resolved - end) if resolved and end and resolved >= end else "-"))
        return "\n".join(rows)


def firing(prom, *names):
    got = {a["labels"]["alertname"] for a in prom.alerts()}
    return set(names) <= got


def none_active(prom, *names):
    active = {a["labels"]["alertname"] for a in prom.alerts("firing") + prom.alerts("pending")}
    return not (set(names) & active)


DASHBOARD_VARS = {"$namespace": NS, "$__rate_interval": "20s"}


def dashboard_targets():
    with open(os.path.join(MONITORING, "ordersink-dashboard.json")) as f:
        d = json.load(f)
    out = []
    for p in d["panels"]:
        for t in p.get("targets", []):
            expr = t["expr"]
            for k, v in DASHBOARD_VARS.items():
                expr = expr.replace(k, v)
            assert "$" not in expr, f"unsubstituted variable in {expr}"
            out.append((p["title"], expr, re.findall(r"\{\{(\w+)\}\}", t.get("legendFormat", ""))))
    return out


SELECTOR = re.compile(r"\b((?:ordersink|kube|keda)[a-z_:]*)(\{[^}]*\})?")


def check_selectors(prom, expr):
    """Every metric an expression reads exists, with every label its matchers name."""
    for name, matchers in SELECTOR.findall(expr):
        if name in ("ordersink", "kube", "keda"):
            continue
        assert prom.query(f"count({name})"), f"no series {name} (in {expr})"
        for label in re.findall(r"(\w+)\s*(?:=~|!=|!~|=)", matchers or ""):
            assert prom.query(f"count by ({label}) ({name})")[0]["metric"].get(label) is not None, \
                f"{name} has no label {label} (in {expr})"


@pytest.fixture
def monitoring(rig, cosmos_faults, tmp_path):
    stand_in = StandIn()
    procs = {}
    try:
        yield stand_in, procs, tmp_path
    finally:
        if "prometheus" in procs:
            procs["prometheus"].stop()  # by its PID, whatever happened
        stand_in.close()


def test_alerts_and_dashboard_on_a_real_prometheus(rig, monitoring):
    stand_in, procs, tmp = monitoring
    topic, group, db, coll = setup_pipeline(rig, "mon", 2)
    worker_port = free_port()
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_METRICS_PORT=str(worker_port), ORDERSINK_RETRY_MAX_ATTEMPTS="1000")
    rig.produce(topic, [(*order(i), i % 2) for i in range(400)])  # valid orders only
    w = rig.start_worker(env)
    prom = procs["prometheus"] = Prometheus(str(tmp), worker_port, stand_in.port)
    wait_committed(rig, group, topic, proc=w)
    log = AlertLog(prom)

    # ---- every rule loaded and every expression evaluates (the metrics it reads: at the end,
    # once the crash loop has made the exit-code series exist)
    with open(os.path.join(MONITORING, "ordersink-rules.yaml")) as f:
        text = f.read()
    rules = prom.rules()
    assert len(rules) == len(re.findall(r"^\s+- (?:alert|record):", text, re.M)) >= 9
    wait_for(lambda: prom.query("ordersink:consumer_lag:sum") and prom.query("kube_deployment_status_replicas"),
             20, "first scrapes")
    lag = prom.query("ordersink:consumer_lag:sum")
    assert [s["metric"] for s in lag] == [{"__name__": "ordersink:consumer_lag:sum", "namespace": NS}]
    # Each group is evaluated every second; a rule not evaluated yet reports health "unknown".
    wait_for(lambda: all(r["health"] != "unknown" for r in prom.rules()), 10, "every rule evaluated")
    rules = prom.rules()
    for r in rules:
        assert r["health"] == "ok", r
        prom.query(r["query"])  # a vector (alerts: empty or the alerting series)
    assert not prom.alerts() and not prom.alerts("pending"), prom.alerts() + prom.alerts("pending")

    # ---- Cosmos throttles: 90 % of the writes answered 429 while orders keep coming, then every
    # write (nothing is written or committed: no batch finishes, the partitions stay paused for
    # backpressure, and the lag, the 429 count and the concurrency limit must still move).
    stop = threading.Event()

    def produce():
        i = 1000
        while not stop.is_set():
            rig.produce(topic, [(*order(i + k), k % 2) for k in range(50)])
            i += 50
            stop.wait(0.5)

    storm = {"OrdersinkCosmosThrottled": ({"throttle_ratio": 0.9, "retry_after_ms": 100}, ()),
             "OrdersinkNoProgress": ({"throttle_ratio": 1.0, "retry_after_ms": 500},
                                     ("OrdersinkLagGrowingAtMaxReplicas", "OrdersinkConcurrencyLimitAtOne"))}
    starts = {}
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        for alert, (faults, also) in storm.items():
            rig.set_faults(**faults)
            t0 = starts[alert] = time.monotonic()
            wait_for(lambda: firing(prom, alert, *also), 120, f"{(alert, *also)} firing", prom)
            for name in (alert, *also):
                [a] = [a for a in prom.alerts() if a["labels"]["alertname"] == name]
                assert a["labels"]["namespace"] == NS
                print(f"{faults}: {name} firing after {time.monotonic() - t0:.0f}s, value {a['value']}")
    finally:
        stop.set()
        producer.join()
        rig.reset_faults()
    t_end = time.monotonic()
    all_429 = "429 for every write, 100 orders/s"
    log.fault("429 for 90 % of the writes, 100 orders/s", starts["OrdersinkCosmosThrottled"], t_end,
              "OrdersinkCosmosThrottled")
    log.fault(all_429, starts["OrdersinkNoProgress"], t_end, "OrdersinkNoProgress",
              "OrdersinkLagGrowingAtMaxReplicas", "OrdersinkConcurrencyLimitAtOne")
    wait_committed(rig, group, topic, timeout=120, proc=w)
    t0 = time.monotonic()
    storm_alerts = ("OrdersinkCosmosThrottled", "OrdersinkNoProgress", "OrdersinkLagGrowingAtMaxReplicas",
                    "OrdersinkConcurrencyLimitAtOne")
    wait_for(lambda: none_active(prom, *storm_alerts), 120, f"{storm_alerts} resolved", prom)
    print(f"{storm_alerts} resolved {time.monotonic() - t0:.0f}s after the drain")

    # ---- a burst of malformed orders, the first dead letters of this worker's life
    t0 = time.monotonic()
    rig.produce(topic, [(None, b"nope %d" % i, i % 2) for i in range(300)])
    log.fault("300 malformed orders at once (first dead letters)", t0, time.monotonic(),
              "OrdersinkDeadLetters")
    wait_for(lambda: firing(prom, "OrdersinkDeadLetters"), 60, "OrdersinkDeadLetters firing", prom)
    [dl] = [a for a in prom.alerts() if a["labels"]["alertname"] == "OrdersinkDeadLetters"]
    assert dl["labels"]["reason"] == "not_json" and dl["labels"]["namespace"] == NS
    print("dead letters:", dl["value"], "per second")

    # ---- every dashboard query returns data of its shape (429s and dead letters have happened)
    for title, expr, legend_labels in dashboard_targets():
        result = prom.query(expr)
        assert result, f"{title}: no data for {expr}"
        for s in result:
            for label in legend_labels:
                assert label in s["metric"], f"{title}: {expr} has no label {label}: {s}"
    wait_for(lambda: none_active(prom, "OrdersinkDeadLetters"), 60, "OrdersinkDeadLetters resolved", prom)
    t_idle = time.monotonic()  # idle from here: nothing more is produced

    # ---- idle but not scaled to zero; meanwhile a second worker with a wrong Cosmos key crash-loops
    wrong_key = base64.b64encode(os.urandom(64)).decode()
    crash_env = {**rig.worker_env(topic, group, db, coll), "ORDERSINK_COSMOS_KEY": wrong_key}
    codes = []
    t0 = time.monotonic()
    for _ in range(3):  # what the kubelet would do, reported as kube-state-metrics would
        c = rig.start_worker(crash_env)
        c.wait(30)
        codes.append(rig.stop_worker(c))
        stand_in.exit_code, stand_in.restarts = codes[-1], stand_in.restarts + 1
        time.sleep(2)
    assert codes == [3, 3, 3], codes
    t_crash_end = time.monotonic()
    log.fault("wrong Cosmos key, 3 restarts", t0, t_crash_end,
              "OrdersinkCosmosAuthOrConfigFailure", "OrdersinkWorkerRestarting")
    idle = ("OrdersinkNotScaledToZero", "OrdersinkCosmosAuthOrConfigFailure", "OrdersinkWorkerRestarting")
    wait_for(lambda: firing(prom, *idle), 90, f"{idle} firing", prom)
    for a in prom.alerts():
        if a["labels"]["alertname"] in idle[1:]:
            assert a["labels"]["pod"] == CRASH_POD, a
    for r in rules:
        check_selectors(prom, r["query"])
    # KEDA scales to zero; the crash loop is over (no restart since).
    assert rig.stop_worker(w) == 0
    stand_in.replicas = 0
    log.fault("idle worker, 1 replica kept", t_idle, time.monotonic(),
              "OrdersinkNotScaledToZero")
    wait_for(lambda: none_active(prom, *idle), 90, f"{idle} resolved", prom)
    assert not prom.alerts() and not prom.alerts("pending"), prom.alerts() + prom.alerts("pending")
    time.sleep(1)  # one more poll of the watcher
    print(log.table())
    assert set(log.faults) == {r["name"] for r in rules if r["type"] == "alerting"}
    assert all(name in log.fired and name in log.resolved for name in log.faults), log.table()
