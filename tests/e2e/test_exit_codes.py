"""The README's exit-code contract, the parts no other test covers: a Cosmos write answered
401/403/404 after a good start -> 1 (nothing committed past it); the database or container
missing at start -> 3; the metrics port already taken -> 1."""
import socket

import pytest
from helpers import log_lines, names, order, setup_pipeline


def errors(w):
    return [l for l in log_lines(w.log_path) if l["level"] == "error"]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_write_refused_later_exits_1_and_commits_nothing_past_it(rig, cosmos_faults, status):
    """The container read at start succeeds; the write of the order at offset 10 is answered
    `status` (a rotated key, a deleted container): exit 1, no commit past offset 10."""
    topic, group, db, coll = setup_pipeline(rig, f"late{status}", 1)
    msgs = [(*order(i), 0) for i in range(30)]
    msgs[10] = (*order(10, note="OPREFUSED"), 0)
    rig.produce(topic, msgs)
    rig.set_faults(op_markers={"OPREFUSED": status})
    env = rig.worker_env(topic, group, db, coll)
    env.update(ORDERSINK_COSMOS_BULK="0", ORDERSINK_BATCH_MAX_COUNT="5")
    w = rig.start_worker(env)
    assert w.wait(timeout=30) == 1
    assert any(f"HTTP {status}" in l.get("error", l["msg"]) for l in errors(w)), errors(w)
    committed = rig.committed(group, topic)[0]
    assert committed is None or committed <= 10, committed
    assert rig.read_doc(db, coll, "o10", "c10") is None


@pytest.mark.parametrize("missing", ["database", "container"])
def test_missing_database_or_container_at_start_exits_3(rig, missing):
    topic, group, coll = names("nocoll")
    db = "shop"
    rig.create_topic(topic, 1)
    rig.create_database(db)
    if missing == "database":
        db = f"nodb-{coll}"
    rig.produce(topic, [(*order(i), 0) for i in range(5)])
    w = rig.start_worker(rig.worker_env(topic, group, db, coll))
    assert w.wait(timeout=30) == 3
    assert len(errors(w)) == 1 and "404" in errors(w)[0]["msg"], errors(w)
    assert all(v is None for v in rig.committed(group, topic).values())


def test_metrics_port_in_use_exits_1(rig):
    topic, group, db, coll = setup_pipeline(rig, "portbusy", 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        env = rig.worker_env(topic, group, db, coll)
        env["ORDERSINK_METRICS_PORT"] = str(port)
        w = rig.start_worker(env)
        assert w.wait(timeout=30) == 1
    assert errors(w), "no error line"
    assert str(port) in str(errors(w)), errors(w)
