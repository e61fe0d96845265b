"""pytest fixtures for the ordersink end-to-end tests. Run tests/rig/deps.sh first, then
   .cache/venv/bin/pytest tests/e2e
Set ORDERSINK_RIG_DIR to choose where the rig keeps its logs and data (default: pytest's tmp dir)."""
import os
import sys

import pytest

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
