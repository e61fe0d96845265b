"""pytest fixtures for the ordersink end-to-end tests. Run tests/rig/deps.sh first, then
   .cache/venv/bin/pytest tests/e2e
Set ORDERSINK_RIG_DIR to choose where the rig keeps its logs and data (default: pytest's tmp dir)."""
import os
import signal
import sys

import pytest

# A run stopped from outside still stops its rig: SIGTERM (a CI timeout, kill) and SIGINT (also
# when started in the background by a non-interactive shell, which ignores it) raise
# KeyboardInterrupt, on which pytest ends the session and runs every fixture's teardown. Before,
# SIGTERM killed pytest at once and left Kafka, the Cosmos front and workers running.
signal.signal(signal.SIGTERM, signal.default_int_handler)
signal.signal(signal.SIGINT, signal.default_int_handler)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rig import Rig  # noqa: E402


@pytest.fixture(scope="session")
def rig(tmp_path_factory):
    run_dir = os.environ.get("ORDERSINK_RIG_DIR") or str(tmp_path_factory.mktemp("rig"))
    r = Rig()
    try:
        r.start(run_dir)
        yield r
    finally:
        r.stop()  # also kills any worker still running


@pytest.fixture
def cosmos_faults(rig):
    """Resets the front's faults after the test, whatever happened."""
    yield rig
    rig.reset_faults()
