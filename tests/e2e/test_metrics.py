"""The worker's HTTP endpoint on the real rig: /metrics agrees with what was produced, written
and dead-lettered and passes promtool's linter; /readyz and /healthz flip when they should;
every log line is JSON."""
import os
import re
import subprocess
import time

from helpers import STARTUP_REQUESTS, free_port, log_lines, order, samples, setup_pipeline, wait_committed, wait_for
from helpers import http_get as get
from rig import REPO

PROMTOOL = os.path.join(REPO, ".cache", "promtool", "usr", "bin", "promtool")


def metrics_env(rig, topic, group, db, coll):
    env = rig.worker_env(topic, group, db, coll)
    port = free_port()
    env.update(ORDERSINK_METRICS_PORT=str(port), ORDERSINK_METRICS_BIND="127.0.0.1")
    return env, port


def test_metrics_match_what_happened_and_lint_clean(rig):
    topic, group, db, coll = setup_pipeline(rig, "metrics", 3)
    msgs = [(*order(i), i % 3) for i in range(1200)]
    bad = [(None, b"nope", 0), (None, b"[]", 1), (None, b'{"orderId": "x"}', 2)]
    rig.produce(topic, msgs + bad)
    env, port = metrics_env(rig, topic, group, db, coll)
    rig.reset_stats()  # the front's counters are shared with earlier tests
    w = rig.start_worker(env)
    wait_committed(rig, group, topic, proc=w)
    wait_for(lambda: samples(get(port, "/metrics")[1]).get("ordersink_orders_written_total") == 1200,
             what="written_total == 1200")
    status, text = get(port, "/metrics")
    assert status == 200
    s = samples(text)
    assert s["ordersink_orders_consumed_total"] == 1203
    assert s["ordersink_orders_written_total"] == rig.count_docs(db, coll) == 1200
    assert s['ordersink_orders_dead_lettered_total{reason="not_json"}'] == 1
    assert s['ordersink_orders_dead_lettered_total{reason="not_object"}'] == 1
    assert s['ordersink_orders_dead_lettered_total{reason="missing_partition_key"}'] == 1
    requests = {k: v for k, v in s.items() if k.startswith("ordersink_cosmos_requests_total")}
    assert requests and sum(requests.values()) == rig.stats()["requests"] - STARTUP_REQUESTS
    assert sum(v for k, v in requests.items() if '"2' in k) == sum(requests.values())
    # The local server charges 1 RU per request (RIG.md); the real service charges per document.
    assert s["ordersink_cosmos_request_units_total"] == sum(requests.values())
    assert s["ordersink_assigned_partitions"] == 3
    assert s["ordersink_batch_size_count"] == s["ordersink_batches_total"] > 0
    assert s["ordersink_end_to_end_latency_seconds_count"] == 1203
    assert any(k.startswith("ordersink_build_info{") for k in s)
    # Lag gauges: end offsets asked every second minus the committed offsets, 0 once drained.
    wait_for(lambda: [v for k, v in samples(get(port, "/metrics")[1]).items()
                      if k.startswith("ordersink_consumer_lag{")] == [0, 0, 0], timeout=20, what="lag gauges")
    lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert get(port, "/healthz")[0] == 200 and get(port, "/readyz")[0] == 200
    assert get(port, "/nope")[0] == 404
    assert rig.stop_worker(w) == 0
    lines = log_lines(w.log_path)  # raises if any line is not JSON
    assert lines and all({"ts", "level", "msg"} <= set(l) for l in lines)


def test_readyz_fails_while_cosmos_is_unreachable(rig, cosmos_faults):
    topic, group, db, coll = setup_pipeline(rig, "ready", 1)
    env, port = metrics_env(rig, topic, group, db, coll)
    w = rig.start_worker(env)
    wait_for(lambda: get(port, "/readyz")[0] == 200, what="ready")
    rig.set_faults(refuse=True)
    rig.produce(topic, [(*order(i), 0) for i in range(5)])
    wait_for(lambda: get(port, "/readyz") == (503, "cosmos unreachable\n"), what="not ready")
    assert get(port, "/healthz")[0] == 200, "retrying is progress, not a stuck loop"
    rig.reset_faults()
    wait_for(lambda: get(port, "/readyz")[0] == 200, what="ready again")
    wait_committed(rig, group, topic, proc=w)
    assert rig.stop_worker(w) == 0


def test_healthz_fails_while_the_loop_is_stuck(rig, cosmos_faults):
    topic, group, db, coll = setup_pipeline(rig, "live", 1)
    env, port = metrics_env(rig, topic, group, db, coll)
    env.update(ORDERSINK_HEALTH_LIVENESS_TIMEOUT_MS="1500", ORDERSINK_COSMOS_REQUEST_TIMEOUT_MS="30000")
    w = rig.start_worker(env)
    wait_for(lambda: get(port, "/healthz")[0] == 200, what="live")
    rig.set_faults(delay_ms=6000)  # one write hangs 6 s: no request finishes, no message polled
    rig.produce(topic, [(*order(1), 0)])
    wait_for(lambda: get(port, "/healthz")[0] == 503, timeout=15, what="healthz 503")
    rig.reset_faults()
    wait_for(lambda: get(port, "/healthz")[0] == 200, timeout=15, what="healthz 200 again")
    wait_committed(rig, group, topic, proc=w)
    assert rig.stop_worker(w) == 0


def dlq_reasons():
    """Every dead-letter reason the worker can give: lib/order.c's names (but "ok" and
    "no_memory", which never reach the DLQ) and the write side's cosmos_rejected."""
    with open(os.path.join(REPO, "lib", "order.c")) as f:
        names = re.findall(r'\[ORDER_\w+\] = "(\w+)"', f.read())
    assert len(names) > 5, "lib/order.c changed shape"
    return sorted(set(names) - {"ok", "no_memory"} | {"cosmos_rejected"})


def lag_sum(s):
    return sum(v for k, v in s.items() if k.startswith("ordersink_consumer_lag{"))


def test_metrics_move_while_no_batch_finishes(rig, cosmos_faults):
    """Labelled series exist at 0 from the first scrape; with every write answered 429 (no batch
    ever settles) the Cosmos counters and the concurrency limit still move, and the lag keeps
    growing while the partitions are paused for backpressure."""
    topic, group, db, coll = setup_pipeline(rig, "stuck", 2)
    env, port = metrics_env(rig, topic, group, db, coll)
    env.update(ORDERSINK_BATCH_MAX_COUNT="20", ORDERSINK_PIPELINE_MAX_BATCHES="2",
               ORDERSINK_RETRY_MAX_ATTEMPTS="1000")
    w = rig.start_worker(env)
    wait_for(lambda: get(port, "/readyz")[0] == 200, what="ready")
    s = samples(get(port, "/metrics")[1])
    for reason in dlq_reasons():  # before any message: every reason at 0
        assert s[f'ordersink_orders_dead_lettered_total{{reason="{reason}"}}'] == 0, reason
    for status in ("none", "200", "201", "401", "403", "404", "429", "503"):
        assert s[f'ordersink_cosmos_requests_total{{status="{status}"}}'] == 0, status
    assert s["ordersink_cosmos_concurrency_limit"] >= 1  # the client's, not 0 before a batch

    rig.set_faults(throttle_ratio=1.0, retry_after_ms=200)
    rig.produce(topic, [(*order(i), i % 2) for i in range(200)])
    wait_for(lambda: samples(get(port, "/metrics")[1])["ordersink_paused_partitions"] == 2,
             what="partitions paused for backpressure")
    first = samples(get(port, "/metrics")[1])
    assert first["ordersink_cosmos_throttled_total"] > 0
    assert first['ordersink_cosmos_requests_total{status="429"}'] == first["ordersink_cosmos_throttled_total"]
    wait_for(lambda: samples(get(port, "/metrics")[1])["ordersink_cosmos_concurrency_limit"] == 1,
             what="concurrency limit cut to 1")
    # Paused: librdkafka fetches nothing more, yet the lag counts what keeps arriving.
    rig.produce(topic, [(*order(1000 + i), i % 2) for i in range(300)])
    wait_for(lambda: lag_sum(samples(get(port, "/metrics")[1])) == 500, timeout=15, what="lag 500")
    s = samples(get(port, "/metrics")[1])
    assert s["ordersink_paused_partitions"] == 2
    assert s["ordersink_batches_total"] == 0 and s["ordersink_orders_written_total"] == 0
    assert s["ordersink_cosmos_throttled_total"] > first["ordersink_cosmos_throttled_total"]
    assert s["ordersink_cosmos_retries_total"] > 0 and s["ordersink_cosmos_concurrency_cuts_total"] >= 1

    rig.reset_faults()
    wait_committed(rig, group, topic, proc=w)
    wait_for(lambda: lag_sum(samples(get(port, "/metrics")[1])) == 0, timeout=15, what="lag 0")
    s = samples(get(port, "/metrics")[1])
    assert s["ordersink_orders_written_total"] == 500 and s["ordersink_paused_partitions"] == 0
    assert rig.stop_worker(w) == 0
