"""A KRaft cluster id for the rig's broker: 16 random bytes, URL-safe base64 without padding, as
Kafka's own Uuid.randomUuid() makes it, and like it never one that starts with '-': StorageTool's
argument parser reads `format -t -xyz...` as an option and fails ("--cluster-id: expected one
argument"), which one rig start in 64 hit before. Printed when run as a script (tests/rig/rig.sh)."""
import base64
import uuid


def cluster_id():
    while True:
        s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not s.startswith("-"):
            return s


if __name__ == "__main__":
    print(cluster_id())
