"""End-to-end under valgrind memcheck: bin/worker consumes a few hundred orders (and some bad
messages) from the real rig, writes them to Cosmos, dead-letters the bad ones, takes SIGTERM and
exits cleanly, with no invalid memory access and no definitely lost block on the way.
Suppressions (system libraries only) live in tests/fuzz/valgrind.supp."""
import os
import re
import shutil
import socket
import time
import urllib.request

import pytest

from helpers import order, setup_pipeline, wait_committed
from rig import REPO, WORKER_BIN

SUPP = os.path.join(REPO, "tests", "fuzz", "valgrind.supp")
ORDERS = 200
BAD = [
    b"not json at all",
    b'{"orderId": "t1", "customerId": ',
    b"",
    b"[1, 2, 3]",
    b'{"customerId": "c1"}',
    b'{"orderId": "b/ad", "customerId": "c1"}',
    b'{"orderId": 1.5, "customerId": "c1"}',
    b'{"orderId": "nopk"}',
    b'{"orderId": "\xff\xfe", "customerId": "c1"}',
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def valgrind_summary(text):
    """Numbers from a memcheck log: leak kinds in bytes, error counts by kind, error summary."""
    out = {"definitely": 0, "indirectly": 0, "possibly": 0, "still_reachable": 0}
    for kind, key in (("definitely lost", "definitely"), ("indirectly lost", "indirectly"),
                      ("possibly lost", "possibly"), ("still reachable", "still_reachable")):
        m = re.search(rf"{kind}: ([\d,]+) bytes in ([\d,]+) blocks", text)
        if m:
            out[key] = int(m.group(1).replace(",", ""))
    out["invalid_read"] = len(re.findall(r"^==\d+== Invalid read", text, re.M))
    out["invalid_write"] = len(re.findall(r"^==\d+== Invalid write", text, re.M))
    out["invalid_free"] = len(re.findall(r"^==\d+== (?:Invalid free|Mismatched free)", text, re.M))
    out["uninitialised"] = len(re.findall(r"^==\d+== (?:Conditional jump|Use of uninitialised|"
                                          r"Syscall param .* uninitialised)", text, re.M))
    m = re.search(r"ERROR SUMMARY: ([\d,]+) errors", text)
    out["errors"] = int(m.group(1).replace(",", "")) if m else None
    return out


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_worker_under_valgrind_has_no_leaks_or_invalid_access(rig):
    topic, group, db, coll = setup_pipeline(rig, "vg", 2)
    msgs = [(*order(i), i % 2) for i in range(ORDERS)]
    msgs += [(*order(i, version=2), i % 2) for i in range(0, 20, 2)]  # updates: coalescing path
    msgs += [(None, raw, 1) for raw in BAD]
    rig.produce(topic, msgs)

    env = rig.worker_env(topic, group, db, coll)
    port = free_port()
    env.update(ORDERSINK_SHUTDOWN_TIMEOUT_MS="60000", ORDERSINK_LOG_STATS_INTERVAL_MS="2000",
               ORDERSINK_METRICS_PORT=str(port), ORDERSINK_METRICS_BIND="127.0.0.1",
               ORDERSINK_HEALTH_LIVENESS_TIMEOUT_MS="600000")
    vg_log = os.path.join(rig.run_dir, f"valgrind-{int(time.time())}.log")
    vg = ["--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=99",
          "--track-origins=no", "--num-callers=40", f"--log-file={vg_log}"]
    if os.path.exists(SUPP):
        vg.append(f"--suppressions={SUPP}")
    w = rig.start_worker(env, args=[*vg, WORKER_BIN], binary="valgrind")
    try:
        wait_committed(rig, group, topic, timeout=900, proc=w)
        for path in ("/metrics", "/healthz", "/readyz"):  # the HTTP endpoint under memcheck too
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30).read()
            except OSError:
                pass  # a 503 or a slow answer is fine here; only memory errors matter
        docs = rig.count_docs(db, coll)
        code = rig.stop_worker(w, timeout=300)
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()

    with open(vg_log) as f:
        text = f.read()
    s = valgrind_summary(text)
    print(f"valgrind summary: {s} (log {vg_log})")
    assert docs == ORDERS
    assert s["invalid_read"] == 0 and s["invalid_write"] == 0 and s["invalid_free"] == 0, \
        f"memcheck found invalid accesses, see {vg_log}"
    assert s["definitely"] == 0, f"definitely lost {s['definitely']} bytes, see {vg_log}"
    assert "LEAK SUMMARY" in text or "no leaks are possible" in text, f"no leak check ran, see {vg_log}"
    assert code == 0, f"exit code {code} (99 = memcheck errors: {s}); see {vg_log} and {w.log_path}"
