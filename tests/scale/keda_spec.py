"""The shipped ScaledObject (keda/common/scaledobject.yaml) as numbers, for make keda-check and
make demo-scale: both apply exactly what the manifest says, so a change there changes them."""
import os

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCALED_OBJECT = os.path.join(REPO, "keda", "common", "scaledobject.yaml")

# KEDA's defaults for what a ScaledObject may leave out (keda.sh/v1alpha1).
DEFAULTS = {"pollingInterval": 30, "cooldownPeriod": 300, "minReplicaCount": 0, "maxReplicaCount": 100}


def load(path=SCALED_OBJECT):
    """{pollingInterval, cooldownPeriod, minReplicaCount, maxReplicaCount, behavior: {scaleUp,
    scaleDown} as in the HPA, metadata: the kafka trigger's metadata}."""
    with open(path) as f:
        so = yaml.safe_load(f)
    spec = so["spec"]
    out = {k: int(spec.get(k, v)) for k, v in DEFAULTS.items()}
    hpa = (spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
    out["behavior"] = hpa.get("behavior") or {}
    kafka = [t for t in spec["triggers"] if t["type"] == "kafka"]
    if len(kafka) != 1:
        raise ValueError(f"{path}: expected one kafka trigger, found {len(kafka)}")
    out["metadata"] = {k: str(v) for k, v in kafka[0]["metadata"].items()}
    return out
