"""The README's guarantees under faults that would break them (issue 18 items 2-3): each test
makes the situation happen for real on the rig and fails when the guarantee is broken.
- commit order: an earlier batch fails for good while later ones succeed; a dead letter the DLQ
  topic refuses; nothing may be committed past either;
- per-operation statuses inside bulk answers (429/503/410 retried, 413 dead-lettered): a
  429'd operation treated as done would be a missing document;
- drain: SIGTERM/SIGINT with batches provably in flight, the 3/4-timeout path (exit 1), the
  member leaving the group at once, and the drain on revocation."""
import signal
import subprocess
import time

import pytest
from helpers import (free_port, group_members, last_progress, log_lines, metrics, names, offsets_in_cosmos,
                     order, setup_pipeline, wait_committed, wait_for)


def headers_of(m):
    return {k: v.decode() for k, v in m["headers"]}


def exit_code(rig, w, timeout=20):
    """w's exit code; None when it is still running after timeout (then it is killed), so the
    offset checks can report what it committed."""
    try:
        return w.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        rig.stop_worker(w, signal.SIGKILL)
        return None


def assert_committed_is_written(rig, group, topic, db, coll, dead_letters=()):
    """Every offset below the committed one is a document in Cosmos (or one of dead_letters,
    (partition, offset) pairs); returns the committed offsets."""
    committed = rig.committed(group, topic)
    have = offsets_in_cosmos(rig, db, coll)
    for p, c in committed.items():
        missing = set(range(c or 0)) - have.get(p, set()) - {o for q, o in dead_letters if q == p}
        assert not missing, f"partition {p}: committed {c} but offsets {sorted(missing)[:10]} not in Cosmos"
    return committed


# ---------------------------------------------------------------- commit order

FAIL_FAST = dict(ORDERSINK_RETRY_MAX_ATTEMPTS="4", ORDERSINK_RETRY_BASE_MS="100", ORDERSINK_RETRY_MAX_MS="200",
                 ORDERSINK_BATCH_MAX_COUNT="10", ORDERSINK_PIPELINE_MAX_BATCHES="8")


def test_batch_failing_for_good_holds_back_the_later_batches_that_succeeded(rig, cosmos_faults):
    """Order at offset 50 answered 503 every time (per operation, inside the bulk answer):
    its batch fails for good after retry.max_attempts while the batches after it are written.
    The worker exits 1 and the partition's committed offset never passes 50."""
    topic, group, db, coll = setup_pipeline(rig, "holdback", 1)
    msgs = [(*order(i), 0) for i in range(200)]
    msgs[50] = (*order(50, note="OPSTUCK"), 0)
    rig.produce(topic, msgs)
    rig.set_faults(op_markers={"OPSTUCK": 503})
    env = {**rig.worker_env(topic, group, db, coll), **FAIL_FAST}
    w = rig.start_worker(env)
    rc = exit_code(rig, w)
    have = offsets_in_cosmos(rig, db, coll).get(0, set())
    assert max(have) > 59, f"no batch after the failing one was written: {sorted(have)[-5:]}"
    assert 50 not in have
    committed = assert_committed_is_written(rig, group, topic, db, coll)
    assert (committed[0] or 0) <= 50, f"committed {committed[0]} past the batch that failed (offset 50)"
    assert rc == 1
    assert rig.stats()["op_injected"]["503"] >= 4
    assert any("failed 4 times" in l.get("error", "") for l in log_lines(w.log_path))


@pytest.mark.parametrize("refusal", ["too_large", "missing_topic"])
def test_dead_letter_refused_by_the_dlq_holds_back_the_commit(rig, refusal):
    """A malformed message at offset 50 cannot be dead-lettered: the DLQ topic accepts at most
    1 KB per message (max.message.bytes) and this one is 4 KB (refused at once), or the DLQ topic
    does not exist and the broker does not create it (the refusal comes after
    topic.metadata.propagation.max.ms, 3 s here: a worker that committed before the ack would
    have committed by then). Batches after it are written; the worker exits 1 (README: a dead
    letter not acknowledged) and nothing is committed past offset 50."""
    topic, group, coll = names("dlqrefuse")
    db = "shop"
    rig.create_topic(topic, 1)
    if refusal == "too_large":
        rig.create_topic(topic + ".dlq", 1, config={"max.message.bytes": "1024"})
    rig.create_database(db)
    rig.create_container(db, coll)
    msgs = [(*order(i), 0) for i in range(200)]
    msgs[50] = (None, b"not json " + b"x" * 4000, 0)
    rig.produce(topic, msgs)
    env = {**rig.worker_env(topic, group, db, coll), **FAIL_FAST,
           "ORDERSINK_LIBRDKAFKA_TOPIC_METADATA_PROPAGATION_MAX_MS": "3000"}
    w = rig.start_worker(env)
    rc = exit_code(rig, w)
    have = offsets_in_cosmos(rig, db, coll).get(0, set())
    assert max(have) > 59, f"no batch after the dead letter was written: {sorted(have)[-5:]}"
    committed = assert_committed_is_written(rig, group, topic, db, coll, dead_letters={(0, 50)})
    assert (committed[0] or 0) <= 50, f"committed {committed[0]} past the unacknowledged dead letter (offset 50)"
    assert rc == 1
    errors = [l for l in log_lines(w.log_path) if l["level"] == "error"]
    assert any("not acknowledged" in l.get("error", "") for l in errors), errors
    if refusal == "too_large":
        assert rig.consume_all(topic + ".dlq") == []


# ---------------------------------------------------------------- per-operation statuses

def test_per_operation_statuses_in_bulk_answers(rig, cosmos_faults):
    """The front answers bulk requests 207 with some operations 429 (retry-after), 503 or 410
    and the others written; the order marked OPREJECT is answered 413 every time. Every
    other order lands once; the 413 one is dead-lettered (cosmos_rejected, HTTP 413)."""
    topic, group, db, coll = setup_pipeline(rig, "opstatus", 3)
    msgs = [(*order(i), i % 3) for i in range(600)]
    msgs[123] = (*order(123, note="OPREJECT"), 0)
    rig.produce(topic, msgs)
    rig.reset_stats()
    rig.set_faults(op_throttle_ratio=0.2, op_503_ratio=0.1, op_410_ratio=0.05, op_retry_after_ms=20,
                   op_markers={"OPREJECT": 413})
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_COSMOS_BULK="1", ORDERSINK_RETRY_MAX_ATTEMPTS="40", ORDERSINK_RETRY_BASE_MS="20",
               ORDERSINK_RETRY_MAX_MS="100")
    w = rig.start_worker(env)
    wait_committed(rig, group, topic, proc=w)
    rig.reset_faults()
    assert rig.stop_worker(w) == 0
    injected = rig.stats()["op_injected"]
    assert all(injected.get(s, 0) > 0 for s in ("429", "503", "410", "413")), injected
    ids = {d["id"] for d in rig.query(db, coll, "SELECT c.id FROM c")}
    want = {f"o{i}" for i in range(600)} - {"o123"}
    assert ids == want, f"missing: {sorted(want - ids)[:10]}, unexpected: {sorted(ids - want)[:10]}"
    dlq = rig.consume_all(topic + ".dlq")
    assert len(dlq) == 1 and headers_of(dlq[0])["ordersink.reason"] == "cosmos_rejected"
    assert "HTTP 413" in headers_of(dlq[0])["ordersink.error"]
    p = last_progress(w.log_path)
    assert p["written"] == 599 and p["cosmos_throttled"] >= injected["429"]


# ---------------------------------------------------------------- drain

def slow_worker(rig, prefix, partitions=3, orders=3000, **extra):
    """A worker reading `orders` orders with every write delayed 1.5 s, its metrics on a free port;
    returns once /metrics shows batches in flight (its counters move only when a batch is done)."""
    topic, group, db, coll = setup_pipeline(rig, prefix, partitions)
    rig.produce(topic, [(*order(i), i % partitions) for i in range(orders)])
    rig.set_faults(delay_ms=1500)
    port = free_port()
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_METRICS_PORT=str(port), ORDERSINK_SHUTDOWN_TIMEOUT_MS="15000", **extra)
    w = rig.start_worker(env)
    m = wait_for(lambda: (lambda s: s if s.get("ordersink_batches_in_flight", 0) >= 1 else None)(metrics(port)),
                 timeout=30, what="batches in flight", proc=w)
    return topic, group, db, coll, env, w, m


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_batches_in_flight_commits_them_and_leaves_the_group(rig, cosmos_faults, sig):
    """Batches are in flight (read from /metrics) when the signal comes: after exit 0, every
    order the worker consumed is in Cosmos and committed, and the member has left the group at
    once (the broker lists no member: not after the 45 s session timeout)."""
    topic, group, db, coll, env, w, _ = slow_worker(rig, "drain")
    t0 = time.monotonic()
    w.send_signal(sig)
    assert w.wait(timeout=20) == 0
    elapsed = time.monotonic() - t0
    members = group_members(rig, group)  # at once: before the drain checks take time
    rig.reset_faults()
    assert elapsed < 15 * 0.75 + 2
    time.sleep(1.6)  # a write the worker abandoned on the wire would land by now (1.5 s delay)
    committed = assert_committed_is_written(rig, group, topic, db, coll)
    for p, offs in offsets_in_cosmos(rig, db, coll).items():
        beyond = sorted(o for o in offs if o >= (committed[p] or 0))
        assert not beyond, f"partition {p}: offsets {beyond[:10]} written but not committed (committed {committed[p]})"
    final = last_progress(w.log_path) if any(l.get("msg") == "shutdown complete" for l in log_lines(w.log_path)) else None
    assert final, "no 'shutdown complete' and final progress line: the worker did not drain"
    consumed = final["consumed"]
    assert sum(c or 0 for c in committed.values()) == consumed, (
        f"consumed {consumed} but committed {committed}: in-flight work not drained")
    assert sum(rig.high_watermarks(topic).values()) > consumed, "expected to stop mid-stream"
    assert members == [], f"the member did not leave the group on shutdown: {members}"


def test_shutdown_timeout_abandons_pending_writes_exit_1_commits_only_durable(rig, cosmos_faults):
    """The order at offset 150 is answered 503 forever (retries never run out): at 3/4 of
    shutdown.timeout_ms the worker abandons it, commits what was durable before it, nothing
    after, and exits 1."""
    topic, group, db, coll = setup_pipeline(rig, "abandon", 1)
    msgs = [(*order(i), 0) for i in range(300)]
    msgs[150] = (*order(150, note="OPSTUCK"), 0)
    rig.produce(topic, msgs)
    rig.set_faults(op_markers={"OPSTUCK": 503})
    port = free_port()
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_METRICS_PORT=str(port), ORDERSINK_SHUTDOWN_TIMEOUT_MS="4000",
               ORDERSINK_RETRY_MAX_ATTEMPTS="1000", ORDERSINK_RETRY_BASE_MS="50", ORDERSINK_RETRY_MAX_MS="100",
               ORDERSINK_BATCH_MAX_COUNT="30")
    w = rig.start_worker(env)
    # The batches after the stuck one written, the stuck one retrying (the worker's counters
    # move only when the oldest batch is done: read Cosmos).
    wait_for(lambda: max(offsets_in_cosmos(rig, db, coll).get(0, {0})) >= 299, timeout=30,
             what="the batches after the stuck one written", proc=w)
    assert metrics(port)["ordersink_batches_in_flight"] >= 1
    before = rig.committed(group, topic)[0]
    t0 = time.monotonic()
    w.send_signal(signal.SIGTERM)
    rc = exit_code(rig, w, timeout=15)
    assert rc == 1, f"exit {rc} (None: still running 15 s after SIGTERM)"
    assert 2.9 < time.monotonic() - t0 < 5.5, "abandons at 3/4 of shutdown.timeout_ms (4 s)"
    committed = assert_committed_is_written(rig, group, topic, db, coll)
    assert before is not None and before <= committed[0] <= 150, (before, committed)
    assert any(l.get("msg") == "stopped without committing what was not yet written"
               and "deadline" in l.get("error", "") for l in log_lines(w.log_path))


def test_revocation_drains_and_commits_before_the_partitions_move(rig, cosmos_faults):
    """Worker 1 has batches in flight (slow sink) when worker 2 joins and takes partitions away
    from it. Worker 2 can read the container but never write (its connection to Cosmos goes
    through a proxy cut after start), so every document of a moved partition is worker 1's:
    each must be below the committed offset (drained and committed before the revocation), and
    every offset below it in Cosmos."""
    import sys
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "reliability"))
    from tcpproxy import BlackholeProxy
    topic, group, db, coll, env, w1, _ = slow_worker(rig, "revdrain", partitions=4, orders=8000)
    # The worker takes its partitions' messages in the order its prefetch holds them, often one
    # partition after another: wait until it has written some of every partition, so whichever
    # partitions move to worker 2 have batches of worker 1 to drain (with 4,000 orders, worker 1
    # sometimes had not reached the moved ones yet and there was nothing to drain).
    wait_for(lambda: len(offsets_in_cosmos(rig, db, coll)) == 4, timeout=60,
             what="worker 1 writing every partition", proc=w1)
    front_port = int(rig.env["COSMOS_ENDPOINT"].rsplit(":", 1)[1].strip("/"))
    proxy = BlackholeProxy("127.0.0.1", front_port).start()
    try:
        env2 = {**env, "ORDERSINK_METRICS_PORT": "0", "ORDERSINK_COSMOS_ENDPOINT": f"https://127.0.0.1:{proxy.port}"}
        w2 = rig.start_worker(env2)
        wait_for(lambda: any(l.get("msg") == "container" for l in log_lines(w2.log_path)), what="w2 read the container",
                 proc=w2)
        proxy.cut()
        assigned = wait_for(lambda: [l for l in log_lines(w2.log_path) if l.get("msg") == "partitions assigned"],
                            timeout=60, what="w2 assigned", proc=w2)
        moved = [int(x) for x in assigned[0]["partitions"].split(",")]
        wait_for(lambda: sum(l.get("msg") == "partitions assigned" for l in log_lines(w1.log_path)) >= 2,
                 timeout=60, what="w1 reassigned", proc=w1)
        rig.reset_faults()
        time.sleep(1.6)  # a write w1 left on the wire when it gave the partitions up lands by now
        committed = assert_committed_is_written(rig, group, topic, db, coll)
        have = offsets_in_cosmos(rig, db, coll)
        assert have, "nothing written"
        for p in moved:
            beyond = sorted(o for o in have.get(p, set()) if o >= (committed[p] or 0))
            assert not beyond, f"partition {p} moved to w2 with offsets {beyond[:10]} written but not committed"
        assert any(committed[p] for p in moved), f"nothing of the moved partitions {moved} was drained: {committed}"
        rig.stop_worker(w2, signal.SIGKILL)
        assert rig.stop_worker(w1) == 0
    finally:
        proxy.stop()
