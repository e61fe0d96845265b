"""End-to-end: bin/worker against the real Kafka broker and the Cosmos server (through the
signature-checking front). Each test uses its own topic, group and container."""
import json
import signal
import subprocess
import time

import pytest
from rig import WORKER_BIN
from helpers import (STARTUP_REQUESTS, last_progress, log_lines, names, order, setup_pipeline, wait_committed,
                     wait_for)

BAD_MESSAGES = [
    (b"not json at all", "not_json"),
    (b'{"orderId": "t1", "customerId": ', "not_json"),
    (b"", "empty"),
    (b"[1, 2, 3]", "not_object"),
    (b'{"customerId": "c1"}', "missing_id"),
    (b'{"orderId": "b/ad", "customerId": "c1"}', "invalid_id"),
    (b'{"orderId": 1.5, "customerId": "c1"}', "invalid_id"),
    (b'{"orderId": "nopk"}', "missing_partition_key"),
    (b'{"orderId": "objpk", "customerId": {"a": 1}}', "invalid_partition_key"),
    (b'{"orderId": "\xff\xfe", "customerId": "c1"}', "invalid_utf8"),
]


def headers_of(m):
    return {k: v.decode() for k, v in m["headers"]}


def test_orders_land_once_and_offsets_commit(rig):
    """5,000 orders over 5 of 6 partitions (one left empty), updates, bad messages."""
    topic, group, db, coll = setup_pipeline(rig, "e2e", 6)
    msgs = []
    for i in range(5000):
        key, val = order(i)
        msgs.append((key, val, i % 5))
    # 50 updates of earlier orders, on the same partition as their first version.
    for i in range(0, 500, 10):
        key, val = order(i, version=2, status="shipped")
        msgs.append((key, val, i % 5))
    bad = [(None, raw, 1) for raw, _ in BAD_MESSAGES]
    rig.produce(topic, msgs + bad)

    env = rig.worker_env(topic, group, db, coll)
    env["ORDERSINK_LOG_STATS_INTERVAL_MS"] = "1000"
    w = rig.start_worker(env)
    committed = wait_committed(rig, group, topic, proc=w)
    assert committed[5] == 0, "the empty partition must have its start offset committed"

    # Every order in Cosmos with its newest content.
    docs = {d["id"]: d for d in rig.query(db, coll, "SELECT * FROM c")}
    assert len(docs) == 5000
    for i in range(5000):
        d = docs[f"o{i}"]
        assert d["customerId"] == f"c{i % 17}"
        assert d["kafka"]["topic"] == topic and d["kafka"]["partition"] == i % 5
        want = 2 if i < 500 and i % 10 == 0 else 1
        assert d["version"] == want, f"o{i} has version {d['version']}, want {want}"
    for i in range(0, 5000, 250):  # point reads by id + partition key
        assert rig.read_doc(db, coll, f"o{i}", f"c{i % 17}")["orderId"] == f"o{i}"

    # Dead letters: exactly the bad messages, each with its reason and origin.
    dlq = rig.consume_all(topic + ".dlq")
    assert sorted(m["value"] for m in dlq) == sorted(raw for raw, _ in BAD_MESSAGES)
    for m in dlq:
        h = headers_of(m)
        want = dict((raw, reason) for raw, reason in BAD_MESSAGES)[m["value"]]
        assert h["ordersink.reason"] == want
        assert h["ordersink.topic"] == topic and h["ordersink.partition"] == "1"
        assert int(h["ordersink.offset"]) >= 0 and h["ordersink.error"]

    assert rig.stop_worker(w) == 0
    p = last_progress(w.log_path)
    assert p["dead_lettered"] == len(BAD_MESSAGES)
    assert p["consumed"] == len(msgs) + len(bad)

    # A restarted worker has nothing to do: no new writes.
    before = rig.stats()["requests"]
    w2 = rig.start_worker(env)
    # assigned, then two progress lines (1 s apart) after it: time to have fetched and written
    wait_for(lambda: (lambda ls: "partitions assigned" in ls and ls[ls.index("partitions assigned"):].count("progress") >= 2)(
        [l.get("msg") for l in log_lines(w2.log_path)]), timeout=30, what="w2 assigned and idle", proc=w2)
    assert rig.stop_worker(w2) == 0
    assert rig.stats()["requests"] - before == STARTUP_REQUESTS, "only the start-up reads"
    assert last_progress(w2.log_path)["consumed"] == 0
    assert rig.committed(group, topic) == committed


def test_wrong_cosmos_key_exits_and_commits_nothing(rig):
    topic, group, db, coll = setup_pipeline(rig, "badkey", 2)
    rig.produce(topic, [(*order(i), None) for i in range(10)])
    env = rig.worker_env(topic, group, db, coll)
    env["ORDERSINK_COSMOS_KEY"] = "d3JvbmcgcGFzc3dvcmQgd3JvbmcgcGFzc3dvcmQgd3JvbmcgcGFzcw=="
    w = rig.start_worker(env)
    assert w.wait(timeout=20) == 3
    errors = [l for l in log_lines(w.log_path) if l["level"] == "error"]
    assert len(errors) == 1 and "authorization failed" in errors[0]["msg"]
    assert all(v is None for v in rig.committed(group, topic).values())
    assert rig.count_docs(db, coll) == 0


def test_partition_key_path_that_differs_from_the_container_exits_3(rig):
    """Issue 11 defect 4: a wrong cosmos.partition_key_path started silently and every write
    would have been refused by the service."""
    topic, group, db, coll = setup_pipeline(rig, "pkpath", 1)  # container on /customerId
    rig.produce(topic, [(*order(i), None) for i in range(5)])
    env = rig.worker_env(topic, group, db, coll)
    env["ORDERSINK_COSMOS_PARTITION_KEY_PATH"] = "/customer/id"
    w = rig.start_worker(env)
    assert w.wait(timeout=20) == 3
    errors = [l for l in log_lines(w.log_path) if l["level"] == "error"]
    assert len(errors) == 1 and "/customer/id" in errors[0]["msg"] and "/customerId" in errors[0]["msg"]
    assert all(v is None for v in rig.committed(group, topic).values())


def test_partition_key_path_is_read_from_the_container(rig):
    topic, group, coll = names("pkfrom")
    db = "shop"
    rig.create_topic(topic, 1)
    rig.create_topic(topic + ".dlq", 1)
    rig.create_database(db)
    rig.create_container(db, coll, pk_path="/customer/id")
    rig.produce(topic, [(None, json.dumps({"orderId": f"n{i}", "customer": {"id": f"k{i % 3}"}}).encode(), 0)
                        for i in range(20)])
    w = rig.start_worker(rig.worker_env(topic, group, db, coll))  # no partition key setting
    wait_committed(rig, group, topic, proc=w)
    assert rig.stop_worker(w) == 0
    assert rig.count_docs(db, coll) == 20
    assert rig.read_doc(db, coll, "n4", "k1")["customer"] == {"id": "k1"}


def test_ids_and_keys_reach_cosmos_exactly_or_are_dead_lettered(rig):
    """Issue 11 defects 2, 3, 6 on the real rig: integer ids from their digits, escaped NULs,
    ids counted in bytes. Two orders never become one document; a value the service would
    change (it keeps numbers as doubles) is dead-lettered, never written changed."""
    topic, group, db, coll = setup_pipeline(rig, "exact", 1)
    cart = "\U0001F6D2" * 100  # 400 UTF-8 bytes: an id (limit 1,023 bytes)
    ok = [b'{"orderId":9007199254740991,"customerId":"c","v":1}',
          b'{"orderId":9007199254740992,"customerId":"c","v":2}',
          b'{"orderId":"k0","customerId":"c\\u0000x","note":"a\\u0000b"}',
          b'{"orderId":"k1","customerId":"caf\xc3\xa9","id":"old","kafka":{"x":"y\\u0000z"}}',
          json.dumps({"orderId": cart, "customerId": "c"}, ensure_ascii=False).encode()]
    bad = [(b'{"orderId":"nul\\u0000a","customerId":"c"}', "invalid_id"),
           (b'{"orderId":"nul\\u0000b","customerId":"c"}', "invalid_id"),
           (b'{"orderId":9007199254740993,"customerId":"c"}', "unstorable_number"),
           (b'{"orderId":"k2","customerId":"c","n":123456789012345678901}', "unstorable_number")]
    rig.produce(topic, [(None, m, 0) for m in ok + [raw for raw, _ in bad]])
    w = rig.start_worker(rig.worker_env(topic, group, db, coll))
    wait_committed(rig, group, topic, proc=w)
    assert rig.stop_worker(w) == 0
    docs = {d["id"]: d for d in rig.query(db, coll, "SELECT * FROM c")}
    assert set(docs) == {"9007199254740991", "9007199254740992", "k0", "k1", cart}
    assert docs["9007199254740991"]["v"] == 1 and docs["9007199254740992"]["v"] == 2
    assert docs["k0"]["customerId"] == "c\u0000x" and docs["k0"]["note"] == "a\u0000b"
    assert rig.read_doc(db, coll, "k1", "caf\u00e9")["customerId"] == "caf\u00e9"
    assert docs["k1"]["kafka"]["topic"] == topic
    dlq = rig.consume_all(topic + ".dlq")
    assert sorted((m["value"], headers_of(m)["ordersink.reason"]) for m in dlq) == sorted(bad)


@pytest.mark.parametrize("bulk,ratio,least", [("0", 0.3, 100), ("1", 0.5, 2)])
def test_throttling_is_retried_until_all_written(rig, cosmos_faults, bulk, ratio, least):
    topic, group, db, coll = setup_pipeline(rig, "throttle", 3)
    rig.produce(topic, [(*order(i), None) for i in range(1000)])
    rig.reset_stats()
    rig.set_faults(throttle_ratio=ratio, retry_after_ms=20)
    env = rig.worker_env(topic, group, db, coll)
    env["ORDERSINK_COSMOS_BULK"] = bulk
    w = rig.start_worker(env)
    wait_committed(rig, group, topic, proc=w)
    rig.reset_faults()
    assert rig.stop_worker(w) == 0
    stats = rig.stats()
    assert stats["throttled"] >= least
    assert rig.count_docs(db, coll) == 1000
    p = last_progress(w.log_path)
    assert p["written"] == 1000 and p["cosmos_throttled"] == stats["throttled"]
    assert p["cosmos_retries"] >= stats["throttled"]
    assert p["concurrency_cuts"] >= 1, "a 429 halves the adaptive concurrency limit"


def test_adaptive_concurrency_drops_to_one_under_throttling_and_grows_back(rig, cosmos_faults):
    """Every write throttled for 3 s: the limit falls to 1; once writes succeed it grows again
    (single upserts, so there are enough requests to fill it)."""
    topic, group, db, coll = setup_pipeline(rig, "aimd", 3)
    rig.produce(topic, [(*order(i), None) for i in range(3000)])
    rig.set_faults(throttle_ratio=1.0, retry_after_ms=50, duration_ms=3000)
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_COSMOS_BULK="0", ORDERSINK_LOG_STATS_INTERVAL_MS="100",
               ORDERSINK_RETRY_MAX_ATTEMPTS="1000")
    w = rig.start_worker(env)
    wait_committed(rig, group, topic, proc=w)
    assert rig.stop_worker(w) == 0
    limits = [l["concurrency_limit"] for l in log_lines(w.log_path) if l.get("msg") == "progress"]
    low = limits.index(1)
    assert max(limits[low:]) > 1, f"the limit never grew back: {limits}"
    assert rig.count_docs(db, coll) == 3000


def test_rejected_document_goes_to_dlq(rig, cosmos_faults):
    topic, group, db, coll = setup_pipeline(rig, "reject", 1)
    rig.set_faults(reject_marker="POISON")
    msgs = [(*order(i), 0) for i in range(20)]
    msgs[7] = (*order(7, note="POISON"), 0)
    rig.produce(topic, msgs)
    w = rig.start_worker(rig.worker_env(topic, group, db, coll))
    wait_committed(rig, group, topic, proc=w)
    assert rig.stop_worker(w) == 0
    dlq = rig.consume_all(topic + ".dlq")
    assert len(dlq) == 1
    h = headers_of(dlq[0])
    assert h["ordersink.reason"] == "cosmos_rejected" and "HTTP 400" in h["ordersink.error"]
    assert h["ordersink.offset"] == "7"
    assert rig.count_docs(db, coll) == 19


def test_sigterm_mid_stream_exits_zero_and_commits_only_written(rig, cosmos_faults):
    topic, group, db, coll = setup_pipeline(rig, "sigterm", 3)
    rig.produce(topic, [(*order(i), None) for i in range(3000)])
    rig.set_faults(delay_ms=1500)  # slow sink: the stream is still going when SIGTERM comes
    env = rig.worker_env(topic, group, db, coll)
    env["ORDERSINK_SHUTDOWN_TIMEOUT_MS"] = "10000"
    w = rig.start_worker(env)
    time.sleep(3)
    t0 = time.monotonic()
    assert rig.stop_worker(w, signal.SIGTERM, timeout=15) == 0
    assert time.monotonic() - t0 < 10
    rig.reset_faults()
    committed = rig.committed(group, topic)
    hw = rig.high_watermarks(topic)
    assert sum(committed.values()) < sum(hw.values()), "expected to stop mid-stream"
    # Every order below a committed offset is in Cosmos.
    docs = {d["id"]: d for d in rig.query(db, coll, "SELECT * FROM c")}
    by_pos = {(d["kafka"]["partition"], d["kafka"]["offset"]) for d in docs.values()}
    for p, off in committed.items():
        for o in range(off or 0):
            assert (p, o) in by_pos, f"partition {p} offset {o} committed but not written"


def test_bad_config_exits_2_naming_the_setting(rig):
    env = {"ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": rig.bootstrap, "ORDERSINK_KAFKA_TOPIC": "t",
           "ORDERSINK_COSMOS_ENDPOINT": "https://127.0.0.1:1", "ORDERSINK_COSMOS_KEY": "a2V5",
           "ORDERSINK_COSMOS_DATABASE": "d", "ORDERSINK_BATCH_MAX_COUNT": "-1"}
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("ORDERSINK_")}
    r = subprocess.run([WORKER_BIN, "--check-config"], env={**clean, **env},
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "batch.max_count" in lines[0] and "ORDERSINK_BATCH_MAX_COUNT" in lines[0]
    env["ORDERSINK_BATCH_MAX_COUNT"] = "50"
    r = subprocess.run([WORKER_BIN, "--check-config"], env={**clean, **env},
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "cosmos.container" in r.stderr
    env["ORDERSINK_COSMOS_CONTAINER"] = "c"
    r = subprocess.run([WORKER_BIN, "--check-config"], env={**clean, **env},
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "a2V5" not in r.stdout and "<redacted>" in r.stdout


def test_versions_in_concurrent_batches_land_newest_last(rig, cosmos_faults):
    """Each version of order o1 in its own batch (batch.max_count=1), eight batches written at
    once and the front answering in random order (jitter): the versions still reach Cosmos in
    offset order, because a write waits for the same document's write in an earlier batch.
    The front records the order in which the backend acknowledged o1's writes (track_id)."""
    topic, group, db, coll = setup_pipeline(rig, "versions", 1)
    msgs = [(*order(1000 + i), 0) for i in range(5)]
    msgs += [(*order(1, customer="c1", version=v), 0) for v in range(1, 61)]
    rig.produce(topic, msgs)
    rig.set_faults(delay_jitter_ms=200, track_id="o1")
    rig.reset_stats()
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_BATCH_MAX_COUNT="1", ORDERSINK_PIPELINE_MAX_BATCHES="8",
               ORDERSINK_COSMOS_ADAPTIVE_CONCURRENCY="0")
    w = rig.start_worker(env)
    wait_committed(rig, group, topic, proc=w)
    assert rig.stop_worker(w) == 0
    tracked = rig.stats()["tracked"]
    assert tracked == list(range(5, 65)), f"o1's versions written out of offset order: {tracked}"
    doc = rig.read_doc(db, coll, "o1", "c1")
    assert doc["version"] == 60 and doc["kafka"]["offset"] == 64
    assert rig.count_docs(db, coll) == 6


def test_oversized_deep_and_nul_messages_are_dead_lettered_and_orders_keep_flowing(rig):
    """The malformed kinds BAD_MESSAGES leaves out: a document over Cosmos's 2 MB limit (the topics
    accept 4 MB), nesting deeper than 1000, a raw NUL byte. Orders before and after them land."""
    topic, group, coll = names("bad2")
    db = "shop"
    big_topics = {"max.message.bytes": str(4 << 20)}
    rig.create_topic(topic, 1, config=big_topics)
    rig.create_topic(topic + ".dlq", 1, config=big_topics)
    rig.create_database(db)
    rig.create_container(db, coll)
    bad = {
        json.dumps({"orderId": "big", "customerId": "c1", "pad": "x" * (2 << 20)}).encode(): "too_large",
        b'{"orderId": "deep", "customerId": "c1", "x": ' + b"[" * 1001 + b"]" * 1001 + b"}": "not_json",
        b'{"orderId": "n\x00ul", "customerId": "c1"}': "invalid_utf8",
    }
    msgs = [(*order(i), 0) for i in range(50)] + [(None, raw, 0) for raw in bad]
    msgs += [(*order(i), 0) for i in range(50, 100)]
    rig.produce(topic, msgs, config={"message.max.bytes": str(4 << 20)})
    w = rig.start_worker(rig.worker_env(topic, group, db, coll))
    wait_committed(rig, group, topic, proc=w)
    assert rig.stop_worker(w) == 0
    dlq = rig.consume_all(topic + ".dlq")
    assert sorted((m["value"], headers_of(m)["ordersink.reason"]) for m in dlq) == sorted(bad.items())
    assert rig.count_docs(db, coll) == 100


def test_cosmos_down_for_good_exits_1_promptly_and_commits_nothing(rig, cosmos_faults):
    """Retries run out (retry.max_attempts=3): the worker stops with exit 1 in seconds, releasing
    the batches it holds (librdkafka's destroy waits for them), and commits nothing."""
    topic, group, db, coll = setup_pipeline(rig, "down", 2)
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_RETRY_MAX_ATTEMPTS="3", ORDERSINK_RETRY_BASE_MS="100",
               ORDERSINK_RETRY_MAX_MS="200", ORDERSINK_COSMOS_REQUEST_TIMEOUT_MS="2000")
    w = rig.start_worker(env)
    wait_for(lambda: any(l.get("msg") == "worker started" for l in log_lines(w.log_path)),
             what="worker started")  # the container was read: Cosmos goes down after start
    rig.set_faults(refuse=True)
    t0 = time.monotonic()
    rig.produce(topic, [(*order(i), i % 2) for i in range(300)])
    assert w.wait(timeout=60) == 1
    assert time.monotonic() - t0 < 30
    assert all(v in (None, 0) for v in rig.committed(group, topic).values())
    assert any(l.get("msg") == "stopped without committing what was not yet written"
               for l in log_lines(w.log_path))


def test_cosmos_unreachable_at_start_reads_nothing_and_exits_1(rig, cosmos_faults):
    """The container is read before anything is consumed (its partition key path routes every
    order): while Cosmos cannot be reached, retry.max_attempts reads with backoff, then exit 1."""
    topic, group, db, coll = setup_pipeline(rig, "downstart", 1)
    rig.produce(topic, [(*order(i), 0) for i in range(10)])
    rig.set_faults(refuse=True)
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_RETRY_MAX_ATTEMPTS="3", ORDERSINK_RETRY_BASE_MS="100",
               ORDERSINK_RETRY_MAX_MS="200")
    w = rig.start_worker(env)
    assert w.wait(timeout=30) == 1
    lines = log_lines(w.log_path)
    assert sum(l.get("msg", "").startswith("cosmos not reachable at start") for l in lines) == 2
    assert any("container read 3 times at start" in l.get("msg", "") for l in lines if l["level"] == "error")
    assert not any(l.get("msg") == "worker started" for l in lines)
    assert all(v is None for v in rig.committed(group, topic).values())


def test_partitions_paused_for_backpressure_fetch_again_after_a_rebalance(rig, cosmos_faults):
    """A slow sink keeps the worker's partitions paused; a second worker joins (rebalance while
    paused); once the sink is fast again every partition is drained and committed. librdkafka
    2.0.2 keeps the pause flag across unassign/assign: without resuming on revoke/assign, the
    partitions the first worker gets back never fetch again."""
    topic, group, db, coll = setup_pipeline(rig, "pausereb", 4)
    rig.produce(topic, [(*order(i), i % 4) for i in range(2000)])
    rig.set_faults(delay_ms=1000)
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_BATCH_MAX_COUNT="20", ORDERSINK_PIPELINE_MAX_BATCHES="2",
               ORDERSINK_LOG_LEVEL="debug")
    w1 = rig.start_worker(env)
    deadline = time.monotonic() + 20
    while not any(l.get("msg") == "backpressure: partitions paused" for l in log_lines(w1.log_path)):
        assert time.monotonic() < deadline, "the first worker never paused"
        time.sleep(0.2)
    w2 = rig.start_worker(env)
    deadline = time.monotonic() + 30
    while sum(l.get("msg") == "partitions assigned" for l in log_lines(w1.log_path)) < 2:
        assert time.monotonic() < deadline, "no rebalance"
        time.sleep(0.2)
    rig.reset_faults()
    wait_committed(rig, group, topic, timeout=60, proc=w1)
    assert [rig.stop_worker(w) for w in (w2, w1)] == [0, 0]
    assert rig.count_docs(db, coll) == 2000
