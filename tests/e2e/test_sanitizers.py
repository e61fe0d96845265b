"""End-to-end under AddressSanitizer + UndefinedBehaviorSanitizer: build/asan/worker (make
build/asan/worker) writes orders and updates through 429s, dropped connections and a slow sink,
dead-letters bad messages, is revoked by a second worker joining, takes SIGTERM, and exits 0 with
no sanitizer report (LeakSanitizer included; its suppressions cover system libraries only)."""
import os

import pytest

from helpers import last_progress, log_lines, order, setup_pipeline, wait_committed, wait_for
from rig import REPO
from test_worker import BAD_MESSAGES

ASAN_WORKER = os.path.join(REPO, "build", "asan", "worker")
LSAN_SUPP = os.path.join(REPO, "tests", "fuzz", "lsan.supp")


def sanitizer_env(rig, topic, group, db, coll):
    env = rig.worker_env(topic, group, db, coll)
    env.update(ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=97",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98",
               LSAN_OPTIONS=f"suppressions={LSAN_SUPP}", ORDERSINK_SHUTDOWN_TIMEOUT_MS="30000",
               ORDERSINK_BATCH_MAX_COUNT="20", ORDERSINK_PIPELINE_MAX_BATCHES="4")
    return env


def reports(path):
    with open(path, errors="replace") as f:
        text = f.read()
    return [line for line in text.splitlines()
            if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line or "runtime error:" in line]


@pytest.mark.skipif(not os.path.exists(ASAN_WORKER), reason="make build/asan/worker first")
def test_worker_under_asan_and_ubsan_through_faults_and_a_rebalance(rig, cosmos_faults):
    topic, group, db, coll = setup_pipeline(rig, "asan", 4)
    msgs = [(*order(i), i % 4) for i in range(1500)]
    msgs += [(*order(i, version=2), i % 4) for i in range(0, 300, 3)]  # updates: coalescing, ordering
    msgs += [(None, raw, 1) for raw, _ in BAD_MESSAGES]
    rig.produce(topic, msgs)
    rig.set_faults(throttle_ratio=0.3, retry_after_ms=20, drop_ratio=0.05, delay_ms=250, delay_jitter_ms=50)
    env = sanitizer_env(rig, topic, group, db, coll)
    env["ORDERSINK_LOG_STATS_INTERVAL_MS"] = "200"
    w1 = rig.start_worker(env, binary=ASAN_WORKER)
    wait_for(lambda: any(l.get("msg") == "progress" and l.get("batches_in_flight", 0) >= 1
                         for l in log_lines(w1.log_path)), timeout=60, what="w1 writing", proc=w1)
    w2 = rig.start_worker(env, binary=ASAN_WORKER)  # a rebalance while batches are in flight
    wait_for(lambda: sum(l.get("msg") == "partitions assigned" for l in log_lines(w1.log_path)) >= 2
             and any(l.get("msg") == "partitions assigned" for l in log_lines(w2.log_path)),
             timeout=60, what="the rebalance", proc=w1)
    rig.reset_faults()
    wait_committed(rig, group, topic, timeout=180, proc=w1)
    codes = [rig.stop_worker(w, timeout=60) for w in (w2, w1)]
    found = reports(w1.log_path) + reports(w2.log_path)
    assert not found, f"sanitizer reports: {found[:5]}; see {w1.log_path}, {w2.log_path}"
    assert codes == [0, 0], f"exit codes {codes} (97 ASan/LSan, 98 UBSan)"
    assert rig.count_docs(db, coll) == 1500
    written = [last_progress(w.log_path)["written"] for w in (w1, w2)]
    assert min(written) > 0, f"both workers must write (a rebalance mid-stream): {written}"
