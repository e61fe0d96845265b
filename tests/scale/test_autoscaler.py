"""Known answers for tests/scale/autoscaler.py: the HPA's algorithm with the shipped behavior
(keda/common/scaledobject.yaml) and KEDA's activation and cooldown, in production seconds."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import autoscaler  # noqa: E402
import keda_spec  # noqa: E402

SO = keda_spec.load()


def hpa(factor=1.0):
    return autoscaler.Hpa(SO["behavior"], int(SO["metadata"]["lagThreshold"]), SO["maxReplicaCount"], factor)


def test_shipped_numbers():
    assert (SO["pollingInterval"], SO["cooldownPeriod"], SO["minReplicaCount"], SO["maxReplicaCount"]) == (15, 300, 0, 12)
    assert SO["metadata"]["lagThreshold"] == "1000"


def test_scale_up_doubles_or_adds_two_per_minute():
    h = hpa()
    assert h.step(0, 1, 12000) == 3  # max(1 x 2, 1 + 2)
    assert h.step(15, 3, 12000) == 3  # same 60 s period: measured from 1 at its start
    assert h.step(59, 3, 12000) == 3
    assert h.step(60, 3, 12000) == 6  # new period: max(3 x 2, 3 + 2)
    assert h.step(120, 6, 12000) == 12
    assert h.step(180, 12, 12000) == 12  # maxReplicaCount


def test_scale_down_waits_for_the_window_then_halves_every_two_minutes():
    h = hpa()
    assert h.step(0, 12, 12000) == 12
    for t in range(15, 300, 15):  # lag gone: desired 1, but 12 was recommended within 300 s
        assert h.step(t, 12, 0) == 12, t
    assert h.step(300, 12, 0) == 6  # the 12 left the window; at most -50 % per 120 s
    assert h.step(315, 6, 0) == 6  # measured from 12 at the period's start: int(12 x 0.5) = 6
    assert h.step(420, 6, 0) == 3
    assert h.step(540, 3, 0) == 1  # int(3 x 0.5) = 1, min 1 (0 is KEDA's step)


def test_tolerance_and_zero_replicas():
    h = hpa()
    assert h.step(0, 4, 4200) == 4  # within 10 %
    assert h.step(15, 4, 4500) == 5
    assert h.step(30, 0, 12000) == 0  # at 0 the HPA does nothing


def test_time_factor_divides_every_period():
    h = hpa(10)
    assert h.step(0, 1, 12000) == 3
    assert h.step(5.9, 3, 12000) == 3
    assert h.step(6, 3, 12000) == 6


def test_keda_activation_and_cooldown_from_any_count():
    k = autoscaler.Keda(SO["cooldownPeriod"])
    assert k.step(0, 0, True) == 1
    assert k.step(15, 5, True) == 5  # the HPA's business
    assert k.step(200, 5, False) == 5  # cooling down
    assert k.step(315, 5, False) == 5  # exactly 300 s: not yet
    assert k.step(316, 5, False) == 0  # straight to 0
    assert k.step(330, 0, False) == 0
