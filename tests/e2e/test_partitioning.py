"""The rig's Cosmos front enforcing the partitioning contract (docs/rig-partitioning.md) through the
rig.py helpers, and ordersink's worker against it on a 16-range container."""
import json
import os
import subprocess

import pytest
from helpers import log_lines, names, order, wait_committed

SDK_READ = os.path.join(os.path.dirname(__file__), "sdk_read.js")


def batch(rig, db, coll, ops, range_id=None):
    h = {"x-ms-cosmos-is-batch-request": "True", "x-ms-cosmos-batch-atomic": "False",
         "x-ms-cosmos-batch-continue-on-error": "True", "x-ms-version": "2020-07-15"}
    if range_id is not None:
        h["x-ms-documentdb-partitionkeyrangeid"] = str(range_id)
    body = [{"operationType": "Upsert", "partitionKey": json.dumps([d["customerId"]]), "resourceBody": d} for d in ops]
    return rig.cosmos_request("POST", f"/dbs/{db}/colls/{coll}/docs", body, headers=h, endpoint=rig.env["COSMOS_ENDPOINT"])


def test_ranges_split_and_refusals_through_the_rig_helpers(rig):
    db, coll = "partdb", names("ranges")[2]
    rig.create_database(db)
    rig.create_container(db, coll, version=2, ranges=16)
    state = rig.partitioning(db, coll)
    assert [r["id"] for r in state["ranges"]] == [str(i) for i in range(16)]
    assert state["partitionKey"] == {"paths": ["/customerId"], "kind": "Hash", "version": 2}
    r = batch(rig, db, coll, [{"id": "a", "customerId": "c1"}])
    assert r.status_code == 400 and "PartitionKey value must be supplied" in r.json()["message"]
    out = rig.split_range(db, coll, 7)
    assert out["children"] == ["16", "17"]
    r = batch(rig, db, coll, [{"id": "a", "customerId": "c1"}], range_id=7)
    assert r.status_code == 410 and r.headers["x-ms-substatus"] == "1002"
    refused = rig.partitioning(db, coll)["refused"]
    assert refused["missing_range_id"] == 1 and refused["range_gone"] == 1
    assert rig.stats()["partitioning"]["refused"]["range_gone"] >= 1


def ranged_pipeline(rig, prefix, partitions, ranges):
    """A topic of `partitions` partitions and its DLQ topic, and a Hash V2 container of `ranges`
    ranges in database partdb. Returns (topic, group, db, coll)."""
    topic, group, coll = names(prefix)
    rig.create_topic(topic, partitions)
    rig.create_topic(topic + ".dlq", 1)
    rig.create_database("partdb")
    rig.create_container("partdb", coll, version=2, ranges=ranges)
    return topic, group, "partdb", coll


def test_worker_requests_pass_the_front_on_16_ranges(rig):
    topic, group, db, coll = ranged_pipeline(rig, "ranges16", 2, 16)
    msgs = [(*order(i, customer=f"c{i % 97}"), i % 2) for i in range(400)]
    rig.produce(topic, msgs)
    w = rig.start_worker(rig.worker_env(topic, group, db, coll))
    try:
        wait_committed(rig, group, topic, timeout=30, proc=w)
    finally:
        rig.stop_worker(w)
    state = rig.partitioning(db, coll)
    assert {k: v for k, v in state["refused"].items() if v} == {}
    assert sum(r["landed"] for r in state["ranges"]) >= 400
    assert rig.consume_all(topic + ".dlq") == []


def sdk_read(rig, db, coll, items):
    """Point-reads [id, key] pairs with the official @azure/cosmos SDK through the front."""
    inp = json.dumps({"endpoint": rig.env["COSMOS_ENDPOINT"], "key": rig.env["COSMOS_KEY"], "db": db, "coll": coll,
                      "items": items})
    r = subprocess.run(["node", SDK_READ], input=inp, capture_output=True, text=True, timeout=180,
                       env={**os.environ, "NODE_EXTRA_CA_CERTS": rig.env["COSMOS_CA_FILE"]})
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def keyed_orders(n, kind, tag=""):
    """n orders with string (some non-ASCII) and a few number keys; MultiHash: /tenant then /customerId.
    Returns [(key bytes, value bytes, kafka partition)] and [[id, partition key for the SDK]]."""
    msgs, items = [], []
    for i in range(n):
        cust = i if i % 50 == 7 else (f"caf\u00e9-{i % 5}" if i % 10 == 3 else f"c{i % 97}")
        extra = {"tenant": f"t{i % 7}"} if kind == "MultiHash" else {}
        body = {"orderId": f"o{tag}{i}", "customerId": cust, "n": i, **extra}
        msgs.append((str(cust).encode(), json.dumps(body).encode(), i % 2))
        items.append([f"o{tag}{i}", [extra["tenant"], cust] if extra else cust])
    return msgs, items


def run_worker(rig, topic, group, db, coll, env=None):
    w = rig.start_worker({**rig.worker_env(topic, group, db, coll), **(env or {})})
    try:
        wait_committed(rig, group, topic, timeout=60, proc=w)
    finally:
        rig.stop_worker(w)


# 1, 4 and 16 ranges, Hash V1 and V2, and a hierarchical (MultiHash) container: every order lands in
# its range with nothing refused, and the SDK reads each back by its id and key.
CASES = [(1, 2, "Hash"), (4, 1, "Hash"), (4, 2, "Hash"), (16, 1, "Hash"), (16, 2, "Hash"), (4, 2, "MultiHash")]


@pytest.mark.parametrize("ranges,version,kind", CASES, ids=[f"{r}-ranges-{k}-v{v}" for r, v, k in CASES])
def test_every_order_lands_in_its_range(rig, ranges, version, kind):
    topic, group, coll = names(f"rng{ranges}")
    db = "partdb"
    rig.create_topic(topic, 2)
    rig.create_topic(topic + ".dlq", 1)
    rig.create_database(db)
    paths = ["/tenant", "/customerId"] if kind == "MultiHash" else None
    rig.create_container(db, coll, version=version, kind=kind, paths=paths, ranges=ranges)
    msgs, items = keyed_orders(300, kind)
    bad = []
    if kind == "MultiHash":  # a missing level is dead-lettered, naming it
        bad = [(b"x", json.dumps({"orderId": "nolevel", "customerId": "c1"}).encode(), 0)]
    rig.produce(topic, msgs + bad)
    run_worker(rig, topic, group, db, coll)
    state = rig.partitioning(db, coll)
    assert {k: v for k, v in state["refused"].items() if v} == {}
    assert sum(r["landed"] for r in state["ranges"]) >= 300
    if ranges > 1:
        assert sum(1 for r in state["ranges"] if r["landed"]) == ranges
    dlq = rig.consume_all(topic + ".dlq")
    assert [dict((k, v.decode()) for k, v in m["headers"])["ordersink.reason"] for m in dlq] == \
        ["missing_partition_key"] * len(bad)
    got = sdk_read(rig, db, coll, items)
    assert got["errors"] == [] and got["missing"] == [] and got["read"] == 300
    assert all(got["docs"][i]["customerId"] == k[-1] if kind == "MultiHash" else got["docs"][i]["customerId"] == k
               for i, k in items)


def test_worker_follows_splits(rig):
    """The worker's map goes stale: two ranges split between two runs of orders. Its batches to the
    gone parents are answered 410/1002; it reads the ranges again (every page), routes again, and every
    order lands."""
    topic, group, coll = names("split")
    db = "partdb"
    rig.create_topic(topic, 2)
    rig.create_topic(topic + ".dlq", 1)
    rig.create_database(db)
    rig.create_container(db, coll, version=2, ranges=4, page_size=2)  # pkranges in pages of 2: x-ms-continuation
    msgs, items = keyed_orders(400, "Hash")
    rig.produce(topic, msgs[:200])
    w = rig.start_worker(rig.worker_env(topic, group, db, coll))
    try:
        wait_committed(rig, group, topic, timeout=60, proc=w)
        rig.split_range(db, coll, 1)
        rig.split_range(db, coll, 2)
        rig.produce(topic, msgs[200:])
        wait_committed(rig, group, topic, timeout=60, proc=w)
    finally:
        rig.stop_worker(w)
    state = rig.partitioning(db, coll)
    refused = {k: v for k, v in state["refused"].items() if v}
    assert set(refused) == {"range_gone"}, refused  # the stale map's requests, nothing else
    live = [r for r in state["ranges"] if not r["gone"]]
    assert len(live) == 6 and all(r["landed"] for r in live if r["parents"])
    assert rig.consume_all(topic + ".dlq") == []
    got = sdk_read(rig, db, coll, items)
    assert got["errors"] == [] and got["missing"] == [] and got["read"] == 400


def test_a_hot_range_throttles_only_itself(rig):
    """Cosmos throttles per partition: one hot range's 429s cut that range's limit of requests in
    flight, not the worker's (it used to halve the whole limit down to 1, so one hot partition
    slowed every other range). The worker's limit (progress lines) stays at or above its start
    (4) while the hot range is cut (concurrency_cuts > 0) and every order lands."""
    topic, group, db, coll = ranged_pipeline(rig, "hotrange", 4, 4)
    rig.set_partitioning(db, coll, ru_per_second_by_range={"1": 50})
    rig.produce(topic, [(*order(i, customer=f"c{i % 211}"), i % 4) for i in range(3000)])
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_LOG_STATS_INTERVAL_MS="100", ORDERSINK_RETRY_MAX_ATTEMPTS="1000")
    w = rig.start_worker(env)
    try:
        wait_committed(rig, group, topic, timeout=120, proc=w)
    finally:
        assert rig.stop_worker(w) == 0
    state = rig.partitioning(db, coll)
    rig.set_partitioning(db, coll, ru_per_second_by_range=None)
    assert state["refused"].get("throttled", 0) > 0, "range 1 was never throttled: the test tested nothing"
    progress = [l for l in log_lines(w.log_path) if l.get("msg") == "progress"]
    assert progress and progress[-1]["concurrency_cuts"] > 0, progress[-1:]
    limits = [l["concurrency_limit"] for l in progress]
    assert min(limits) >= 4, f"a hot range cut the worker's whole limit: {limits}"
    assert rig.count_docs(db, coll) == 3000
