"""KEDA's scale loop and the Kubernetes HPA, as pure functions of time and the lag metric, for
make demo-scale. Numbers come from the shipped ScaledObject (keda_spec.load), times divided by
a factor so that a demo takes a minute instead of ten.

KEDA (pkg/scaling/executor/scale_scaledobjects.go, v2.21): every pollingInterval it asks the
trigger whether it is active; active with 0 replicas -> 1 (minReplicaCount 0); active otherwise
-> remember the time; inactive with replicas > 0 -> 0 once cooldownPeriod has passed since it was
last active (from any replica count: the HPA does every other step).

HPA (k8s.io/kubernetes pkg/controller/podautoscaler, sync period 15 s): while replicas > 0,
desired = ceil(metric / lagThreshold) unless metric / (lagThreshold x replicas) is within the
10 % tolerance; then the behavior: stabilization (scale-up: the lowest recommendation of its
window, scale-down: the highest of its window), then the rate policies measured from the
replica count at the start of each policy's period, clamped to [1, maxReplicaCount].
"""
import math

HPA_SYNC_SECONDS = 15  # kube-controller-manager --horizontal-pod-autoscaler-sync-period
HPA_TOLERANCE = 0.1
# The HPA's defaults for a behavior the ScaledObject leaves out.
DEFAULT_BEHAVIOR = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15},
                             {"type": "Pods", "value": 4, "periodSeconds": 15}]},
    "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                  "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
}


class Hpa:
    def __init__(self, behavior, lag_threshold, max_replicas, factor=1.0, min_replicas=1):
        b = {d: {**DEFAULT_BEHAVIOR[d], **(behavior or {}).get(d, {})} for d in DEFAULT_BEHAVIOR}
        self.up, self.down = b["scaleUp"], b["scaleDown"]
        self.factor = factor
        self.threshold = lag_threshold
        self.min, self.max = min_replicas, max_replicas
        self.recommendations = []  # (t, desired before stabilization)
        self.events = []  # (t, change) of the HPA's own scalings

    def _seconds(self, s):
        return s / self.factor

    def _changed_in(self, now, period, sign):
        return sum(c for t, c in self.events if now - t < self._seconds(period) and c * sign > 0) * sign

    def _limit(self, now, current, rules, up):
        if rules.get("selectPolicy") == "Disabled":
            return current
        # scale-up Max / scale-down Max pick the biggest change; Min the smallest.
        biggest = rules.get("selectPolicy", "Max") == "Max"
        pick = (max if biggest else min) if up else (min if biggest else max)
        out = None
        for p in rules["policies"]:
            added = self._changed_in(now, p["periodSeconds"], +1)
            removed = self._changed_in(now, p["periodSeconds"], -1)
            start = current - added + removed
            if p["type"] == "Pods":
                proposed = start + p["value"] if up else start - p["value"]
            elif up:
                proposed = math.ceil(start * (1 + p["value"] / 100))
            else:
                proposed = int(start * (1 - p["value"] / 100))
            out = proposed if out is None else pick(out, proposed)
        return out

    def step(self, now, current, metric):
        """The replica count the HPA sets at time now (seconds) with current replicas and KEDA's
        metric; current when it does nothing (also at 0 replicas: KEDA's turn)."""
        if current == 0:
            return 0
        ratio = metric / (self.threshold * current)
        desired = current if abs(1 - ratio) <= HPA_TOLERANCE else math.ceil(metric / self.threshold)
        up_cut = now - self._seconds(self.up["stabilizationWindowSeconds"])
        down_cut = now - self._seconds(self.down["stabilizationWindowSeconds"])
        up_rec = down_rec = desired
        for t, r in self.recommendations:
            if t > up_cut:
                up_rec = min(up_rec, r)
            if t > down_cut:
                down_rec = max(down_rec, r)
        keep = max(self.up["stabilizationWindowSeconds"], self.down["stabilizationWindowSeconds"])
        self.recommendations = [(t, r) for t, r in self.recommendations if t > now - self._seconds(keep)]
        self.recommendations.append((now, desired))
        rec = min(max(current, up_rec), down_rec)
        if rec > current:
            limit = max(self._limit(now, current, self.up, True), current)
            rec = min(rec, limit, self.max)
        elif rec < current:
            limit = min(self._limit(now, current, self.down, False), current)
            rec = max(rec, limit, self.min)
        rec = min(max(rec, self.min), self.max)
        if rec != current:
            self.events.append((now, rec - current))
        return rec


class Keda:
    def __init__(self, cooldown_seconds, factor=1.0, min_replicas=0):
        self.cooldown = cooldown_seconds / factor
        self.min = min_replicas
        self.last_active = None

    def step(self, now, current, active):
        """The replica count KEDA sets after a poll at time now; current when it leaves it."""
        if active:
            self.last_active = now
            return max(self.min, 1) if current == 0 else current
        if current > 0 and self.min == 0 and (self.last_active is None or now - self.last_active > self.cooldown):
            return 0
        return current
