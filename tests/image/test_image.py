"""The worker image (Dockerfile) as deployed: built by tests/image/run.sh (make image-test), run
with podman as Kubernetes runs it (its own non-root user, read-only root filesystem, config and
secrets mounted read-only), against the rig: orders produced by bin/producer land in Cosmos, and
SIGTERM (podman stop) ends it with exit 0."""
import json
import os
import re
import shutil
import time
import subprocess
import uuid

from helpers import setup_pipeline, wait_committed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRODUCER = os.path.join(REPO, "bin", "producer")
PINNED = re.search(r"^LIBRDKAFKA_VERSION=(\S+)$", open(os.path.join(REPO, "scripts", "librdkafka.sh")).read(),
                   re.M).group(1)
UID = 10001  # the Dockerfile's USER, also runAsUser in k8s/base
# RIG.md: runc needs explicit rlimits here (no CAP_SYS_RESOURCE to raise them).
RUN = ["run", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "--network", "host", "--read-only"]
ORDERS = 3000
# Bytes the image adds to the stripped slim base: issue 14's goal, 15 MB (docs/kubernetes.md,
# "Image": libssl3, libcurl4 and its dependencies, bin/worker with librdkafka, the CA bundle).
SIZE_BOUND = 15_000_000


def test_version_prints_the_pinned_librdkafka(podman, image):
    out = podman(*RUN, "--rm", image, "--version").stdout
    assert f"(librdkafka {PINNED}," in out, out


def test_librdkafka_is_not_a_shared_library(podman, image):
    out = podman(*RUN, "--rm", "--entrypoint", "ldd", image, "/usr/local/bin/worker").stdout
    assert "libssl.so.3" in out, out  # it is the worker's ldd
    assert "rdkafka" not in out and "not found" not in out, out


def test_size_over_the_base_stays_bounded(podman, image):
    size = {i: int(podman("image", "inspect", "--format", "{{.Size}}", i).stdout)
            for i in (image, os.environ["ORDERSINK_IMAGE_BASE"])}
    extra = size[image] - size[os.environ["ORDERSINK_IMAGE_BASE"]]
    print(f"image {size[image]} bytes, base {size[os.environ['ORDERSINK_IMAGE_BASE']]} bytes, +{extra}")
    assert extra < SIZE_BOUND, f"the image adds {extra} bytes to the base, bound {SIZE_BOUND}"


def write_files(rig, tmp_path, topic, group, db, coll, system_store=False):
    """The config file and the secrets as Kubernetes mounts them (k8s/base): readable by the
    image's user, mounted read-only. Kafka over SASL_SSL with SCRAM-SHA-512 (the login that
    needs librdkafka >= 2.6.1 against Kafka 4), Cosmos over TLS with the rig's CA. With
    system_store, no CA file is configured: the rig's CAs replace the image's CA bundle
    (/etc/ssl/certs/ca-certificates.crt), as a public CA would be found there for Event Hubs,
    MSK and Cosmos DB."""
    e = rig.env
    mounts = {"/etc/ordersink/ordersink.cfg": "ordersink.cfg",
              "/var/run/secrets/ordersink/cosmos-key": "cosmos-key",
              "/var/run/secrets/ordersink/kafka-sasl-password": "kafka-sasl-password"}
    if system_store:
        mounts["/etc/ssl/certs/ca-certificates.crt"] = "ca-bundle.pem"
    else:
        mounts.update({"/etc/ordersink/kafka-ca.pem": "kafka-ca.pem", "/etc/ordersink/cosmos-ca.pem": "cosmos-ca.pem"})
    kafka_ca = "" if system_store else 'ssl_ca_file = "/etc/ordersink/kafka-ca.pem";'
    cosmos_ca = "" if system_store else 'ca_file = "/etc/ordersink/cosmos-ca.pem";'
    cfg = f"""
kafka = {{
  bootstrap_servers = "{e['KAFKA_SASL_SCRAM_BOOTSTRAP']}";
  security_protocol = "sasl_ssl";
  sasl_mechanism = "{e['KAFKA_SCRAM_MECHANISM']}";
  sasl_username = "{e['KAFKA_SCRAM_USER']}";
  sasl_password_file = "/var/run/secrets/ordersink/kafka-sasl-password";
  {kafka_ca}
  topic = "{topic}";
  group_id = "{group}";
}};
cosmos = {{
  endpoint = "{e['COSMOS_ENDPOINT']}";
  key_file = "/var/run/secrets/ordersink/cosmos-key";
  {cosmos_ca}
  database = "{db}";
  container = "{coll}";
}};
metrics = {{ bind = "127.0.0.1"; port = 0; }};
log = {{ stats_interval_ms = 1000; }};
"""
    d = tmp_path / "mounts"
    d.mkdir()
    (d / "ordersink.cfg").write_text(cfg)
    shutil.copy(e["KAFKA_CA_FILE"], d / "kafka-ca.pem")
    shutil.copy(e["COSMOS_CA_FILE"], d / "cosmos-ca.pem")
    (d / "ca-bundle.pem").write_text(open(e["KAFKA_CA_FILE"]).read() + open(e["COSMOS_CA_FILE"]).read())
    (d / "cosmos-key").write_text(e["COSMOS_KEY"] + "\n")
    (d / "kafka-sasl-password").write_text(e["KAFKA_SCRAM_PASSWORD"] + "\n")
    for f in d.iterdir():
        os.chmod(f, 0o444)
    os.chmod(d, 0o755)
    for p in (tmp_path, *tmp_path.parents):  # pytest's tmp dirs are 0700: the container's user must reach the files
        if str(p) in ("/", "/tmp"):
            break
        os.chmod(p, os.stat(p).st_mode | 0o011)
    args = []
    for target, name in mounts.items():
        args += ["--volume", f"{d / name}:{target}:ro"]
    return args


class ContainerProc:
    """A container as wait_committed's proc: poll() is None while it runs, else its exit code."""

    def __init__(self, podman, name):
        self.podman, self.log_path, self.returncode = podman, f"podman logs {name}", None
        self.name = name

    def poll(self):
        state = json.loads(self.podman("inspect", "--format", "{{json .State}}", self.name).stdout)
        self.returncode = None if state["Running"] else state["ExitCode"]
        return self.returncode


def host_pid(podman, name):
    return int(podman("inspect", "--format", "{{.State.Pid}}", name).stdout)


def test_drains_rig_orders_into_cosmos_non_root_read_only_and_exits_0_on_sigterm(rig, podman, image, tmp_path):
    topic, group, db, coll = setup_pipeline(rig, "image", 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSINK_")}
    env["ORDERSINK_KAFKA_BOOTSTRAP_SERVERS"] = rig.bootstrap
    p = subprocess.run([PRODUCER, "--topic", topic, "--count", str(ORDERS), "--seed", "14"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert sum(rig.high_watermarks(topic).values()) == ORDERS

    name = f"ordersink-image-test-{uuid.uuid4().hex[:8]}"
    mounts = write_files(rig, tmp_path, topic, group, db, coll)
    try:
        podman(*RUN, "--detach", "--name", name, *mounts, image)
        pid = host_pid(podman, name)
        # Non-root: the worker process itself (no user namespace: the host sees the same uid).
        status = open(f"/proc/{pid}/status").read()
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
        assert uids == [str(UID)] * 4 and gids == [str(UID)] * 4, (uids, gids)
        assert re.search(r"^CapEff:\s+0+$", status, re.M), "a non-root worker has no effective capability"
        # Read-only root filesystem, as the worker sees it.
        root = [line.split() for line in open(f"/proc/{pid}/mountinfo") if line.split()[4] == "/"]
        assert root and "ro" in root[-1][5].split(","), root
        probe = podman("exec", "--user", "0", name, "touch", "/probe", check=False)  # root: only ro stops it
        assert probe.returncode != 0 and "Read-only file system" in probe.stderr, probe

        wait_committed(rig, group, topic, timeout=120, proc=ContainerProc(podman, name))
        assert rig.count_docs(db, coll) == ORDERS
        docs = rig.query(db, coll, "SELECT c.id, c.kafka FROM c")
        assert len({d["id"] for d in docs}) == ORDERS
        assert all(d["kafka"]["topic"] == topic for d in docs)

        t0 = time.monotonic()
        podman("stop", "--time", "30", name, timeout=60)  # SIGTERM (the image's STOPSIGNAL), KILL after 30 s
        stopped = time.monotonic() - t0
        code = int(podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout)
        out = podman("logs", name)
        logs = out.stdout + out.stderr
        assert code == 0, f"exit {code}\n{logs[-3000:]}"
        assert stopped < 25, f"podman stop took {stopped:.1f}s: SIGTERM did not end the worker"
        lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
        progress = [line for line in lines if line.get("msg") == "progress"]
        assert progress and progress[-1]["consumed"] == ORDERS, progress[-1:]
        assert not [line for line in lines if line.get("level") == "error"], logs[-3000:]
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def test_trusts_the_system_ca_store_when_no_ca_file_is_set(rig, podman, image, tmp_path):
    """Neither kafka.ssl_ca_file nor cosmos.ca_file set: both clients must find the image's CA
    store where they look by default (libcurl: /etc/ssl/certs/ca-certificates.crt; librdkafka:
    OpenSSL's /usr/lib/ssl/cert.pem, a link the Dockerfile makes). Here the rig's CAs stand in
    for the public ones in that file; without the link, librdkafka's TLS login fails."""
    topic, group, db, coll = setup_pipeline(rig, "imgstore", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSINK_")}
    env["ORDERSINK_KAFKA_BOOTSTRAP_SERVERS"] = rig.bootstrap
    p = subprocess.run([PRODUCER, "--topic", topic, "--count", "200", "--seed", "15"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    name = f"ordersink-image-store-{uuid.uuid4().hex[:8]}"
    mounts = write_files(rig, tmp_path, topic, group, db, coll, system_store=True)
    try:
        podman(*RUN, "--detach", "--name", name, *mounts, image)
        wait_committed(rig, group, topic, timeout=90, proc=ContainerProc(podman, name))
        assert rig.count_docs(db, coll) == 200
        podman("stop", "--time", "30", name, timeout=60)
        assert int(podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout) == 0
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def test_a_cosmos_ca_file_replaces_the_system_ca_store(rig, podman, image, tmp_path):
    """cosmos.ca_file is trusted *instead of* the system store (docs/configuration.md). Here the
    system CA directory (/etc/ssl/certs, hashed links as update-ca-certificates makes them)
    holds the rig's Cosmos CA while cosmos.ca_file names an unrelated CA: the worker must refuse
    the front's certificate and exit, not fall back to the directory (Debian's libcurl searches
    /etc/ssl/certs by default even when a CA file is set)."""
    topic, group, db, coll = setup_pipeline(rig, "imgcafile", 1)
    mounts = write_files(rig, tmp_path, topic, group, db, coll)
    d = tmp_path / "mounts"
    other = tmp_path / "other-ca"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=not the rig's CA", "-keyout", str(other / "key.pem"), "-out", str(d / "other-ca.pem")],
                   check=True, capture_output=True)
    os.chmod(d / "other-ca.pem", 0o444)
    certs = tmp_path / "certs"
    certs.mkdir()
    h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", rig.env["COSMOS_CA_FILE"]],
                       check=True, capture_output=True, text=True).stdout.strip()
    shutil.copy(rig.env["COSMOS_CA_FILE"], certs / f"{h}.0")
    os.chmod(certs / f"{h}.0", 0o444)
    os.chmod(certs, 0o755)
    mounts = [m.replace(f"{d / 'cosmos-ca.pem'}:", f"{d / 'other-ca.pem'}:") for m in mounts]
    mounts += ["--volume", f"{certs}:/etc/ssl/certs:ro"]
    name = f"ordersink-image-cafile-{uuid.uuid4().hex[:8]}"
    try:
        podman(*RUN, "--detach", "--name", name, "--env", "ORDERSINK_RETRY_MAX_ATTEMPTS=2", *mounts, image)
        deadline = time.monotonic() + 60
        while json.loads(podman("inspect", "--format", "{{json .State}}", name).stdout)["Running"]:
            assert time.monotonic() < deadline, "the worker trusted the system CA directory: still running"
            time.sleep(0.5)
        code = int(podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout)
        out = podman("logs", name)
        logs = out.stdout + out.stderr
        assert code != 0, logs[-2000:]
        assert "certificate" in logs.lower(), logs[-2000:]
        assert rig.count_docs(db, coll) == 0
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)
