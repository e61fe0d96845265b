"""Start-up behaviour that needs no rig: signals before main(), config errors.

A SIGTERM that arrives while the shared libraries initialise (OpenSSL, GnuTLS, p11-kit, ...:
several ms between exec and main()) must be a clean stop, exit 0, not death by the signal
(exit 143). A preloaded library raises SIGTERM from its constructor, which runs after the
worker's .preinit_array hook and before main(), making that race deterministic.
"""
import os
import subprocess
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PRELOAD_SRC = r"""
#include <signal.h>
#include <stdlib.h>
__attribute__((constructor)) static void term_while_loading(void)
{
    if (getenv("ORDERSINK_TEST_RAISE"))
        raise(SIGTERM);
}
"""


@pytest.fixture(scope="module")
def preload_so():
    d = tempfile.mkdtemp(prefix="ordersink-preload-")
    src, so = os.path.join(d, "raise.c"), os.path.join(d, "raise.so")
    with open(src, "w") as f:
        f.write(PRELOAD_SRC)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src], check=True)
    yield so
    for p in (src, so):
        os.unlink(p)
    os.rmdir(d)


def worker_env(**extra):
    env = {"PATH": os.environ["PATH"], "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
           "ORDERSINK_KAFKA_TOPIC": "t", "ORDERSINK_COSMOS_ENDPOINT": "https://127.0.0.1:1/",
           "ORDERSINK_COSMOS_KEY": "a2V5", "ORDERSINK_COSMOS_DATABASE": "d",
           "ORDERSINK_COSMOS_CONTAINER": "c", "ORDERSINK_METRICS_PORT": "0"}
    env.update(extra)
    return env


@pytest.mark.parametrize("binary", ["bin/worker", "build/asan/worker"])
def test_sigterm_while_libraries_load_is_a_clean_stop(preload_so, binary):
    env = worker_env(LD_PRELOAD=preload_so, ORDERSINK_TEST_RAISE="1")
    if "asan" in binary:  # ASan's runtime must come first in the preload list
        asan = subprocess.run(["cc", "-print-file-name=libasan.so"], capture_output=True,
                              text=True).stdout.strip()
        env["LD_PRELOAD"] = f"{asan}:{preload_so}"
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    p = subprocess.run([os.path.join(ROOT, binary)], env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, f"exit {p.returncode} (-15 = killed by SIGTERM): {p.stderr[-500:]}"


def test_eventhubs_entity_path_alone_passes_check_config():
    """Issue 11 defect 1 (config side; the full start is in test_security.py)."""
    env = worker_env(EVENTHUBS_CONNECTION_STRING="Endpoint=sb://ns1.servicebus.windows.net/;"
                     "SharedAccessKeyName=R;SharedAccessKey=abc=;EntityPath=orders")
    del env["ORDERSINK_KAFKA_TOPIC"]
    check = subprocess.run([os.path.join(ROOT, "bin/worker"), "--check-config"], env=env,
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert 'kafka.topic = "orders"' in check.stdout
    assert 'dlq.topic = "orders.dlq"' in check.stdout


@pytest.mark.parametrize("binary", ["bin/worker", "build/asan/worker"])
def test_sigterm_while_waiting_for_cosmos_at_start_is_a_clean_stop(binary):
    """The consumer is created (not subscribed) before the container read, so its connection set-up
    overlaps the read; a SIGTERM during the wait for Cosmos must still be a clean stop (exit 0):
    nothing was consumed, and the unsubscribed consumer is destroyed without a group to leave."""
    env = worker_env(ASAN_OPTIONS="detect_leaks=1")
    p = subprocess.Popen([os.path.join(ROOT, binary)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in p.stdout:  # the worker's JSON log: wait for its first retry of the container read
        lines.append(line)
        if "cosmos not reachable at start" in line:
            break
    p.send_signal(15)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0, f"exit {p.returncode}: {(''.join(lines) + out)[-1500:]}"
