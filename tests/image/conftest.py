"""pytest fixtures for the image test (tests/image/run.sh sets ORDERSINK_IMAGE and
ORDERSINK_IMAGE_PODMAN, then runs pytest here): the rig, and podman on the run's private storage."""
import os
import shlex
import signal
import subprocess
import sys

import pytest

# Stopped from outside, the run still stops its rig and containers (see tests/e2e/conftest.py).
signal.signal(signal.SIGTERM, signal.default_int_handler)
signal.signal(signal.SIGINT, signal.default_int_handler)

E2E = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e")
sys.path.insert(0, E2E)
from rig import Rig  # noqa: E402


@pytest.fixture(scope="session")
def image():
    name = os.environ.get("ORDERSINK_IMAGE")
    if not name or not os.environ.get("ORDERSINK_IMAGE_PODMAN"):
        pytest.fail("run through tests/image/run.sh (make image-test): it builds the image first")
    return name


@pytest.fixture(scope="session")
def podman(image):
    """podman(*args, check=True, timeout=120) -> CompletedProcess (text), on the run's storage."""
    base = shlex.split(os.environ["ORDERSINK_IMAGE_PODMAN"])

    def run(*args, check=True, timeout=120):
        p = subprocess.run([*base, *args], capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p
    return run


@pytest.fixture(scope="session")
def rig(tmp_path_factory):
    r = Rig()
    try:
        r.start(str(tmp_path_factory.mktemp("rig")))
        yield r
    finally:
        r.stop()
