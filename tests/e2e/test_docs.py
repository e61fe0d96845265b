"""The docs stay true: the settings table is the one the code prints, the producer's usage is the
one it prints, the example config and the README's quick starts pass --check-config, every docs
page is linked from the README, every relative link and anchor resolves, the README stays a front
door (< 15,000 bytes), and the module map names every file under lib/."""
import glob
import os
import re
import subprocess

import pytest

from rig import REPO, WORKER_BIN

PRODUCER_BIN = os.path.join(REPO, "bin", "producer")
README = os.path.join(REPO, "README.md")
DOCS = sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
PAGES = [README] + DOCS


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORDERSINK_") and k != "EVENTHUBS_CONNECTION_STRING"}
    env.update(extra)
    return env


def without_code(text):
    """The Markdown text with fenced blocks and inline code spans blanked out."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else line)
    return re.sub(r"`[^`\n]*`", "``", "\n".join(out))


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path):
    """Every heading anchor of a Markdown file, with GitHub's -1, -2... for repeats."""
    seen, out = {}, set()
    fenced = False
    for line in read(path).splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        s = slug(m.group(1))
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def links(path):
    """(target path or None for the same file, anchor or None) of every relative link."""
    found = []
    for target in re.findall(r"\]\(([^)\s]+)\)", without_code(read(path))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        found.append((target, dest, anchor or None))
    return found


def test_pages_exist():
    names = [os.path.basename(p) for p in DOCS]
    for page in ["configuration.md", "kafka.md", "cosmos.md", "deploy-aks.md", "deploy-eks.md",
                 "operating.md", "troubleshooting.md", "reliability.md", "benchmarks.md",
                 "architecture.md"]:
        assert page in names, f"docs/{page} is missing"


def test_settings_table_is_the_one_the_code_prints():
    table = subprocess.run([WORKER_BIN, "--print-settings"], capture_output=True, text=True,
                           check=True).stdout
    assert len(table.splitlines()) > 30
    page = read(os.path.join(REPO, "docs", "configuration.md"))
    m = re.search(r"<!-- settings:begin[^>]*-->\n(.*?)<!-- settings:end -->", page, re.S)
    assert m, "docs/configuration.md has no <!-- settings:begin --> ... <!-- settings:end --> block"
    assert m.group(1) == table, ("docs/configuration.md settings table is out of date; "
                                 "replace the block with the output of bin/worker --print-settings")


def test_every_env_var_in_the_docs_is_a_setting():
    table = subprocess.run([WORKER_BIN, "--print-settings"], capture_output=True, text=True,
                           check=True).stdout
    known = set(re.findall(r"`(ORDERSINK_[A-Z0-9_]+)`", table))
    for path in PAGES:
        for name in set(re.findall(r"ORDERSINK_[A-Z0-9_]+", read(path))):
            if name in known or name.endswith("_") or name.startswith("ORDERSINK_LIBRDKAFKA_"):
                continue
            assert name in ("ORDERSINK_CONFIG", "ORDERSINK_GROUP_NAME"), \
                f"{os.path.relpath(path, REPO)}: {name} is not a worker setting"


def test_producer_usage_is_the_one_it_prints():
    usage = subprocess.run([PRODUCER_BIN, "--help"], capture_output=True, text=True,
                           check=True).stdout
    page = read(os.path.join(REPO, "docs", "producer.md"))
    assert f"```\n{usage}```" in page, "docs/producer.md usage differs from bin/producer --help"


def test_example_config_is_valid(tmp_path):
    key = tmp_path / "key"
    key.write_text("c2VjcmV0LWtleS1mb3ItdGVzdHM=\n")
    r = subprocess.run([WORKER_BIN, "--config", os.path.join(REPO, "config", "ordersink.cfg"),
                        "--check-config"], env=clean_env(ORDERSINK_COSMOS_KEY_FILE=str(key)),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'kafka.topic = "orders"  # ORDERSINK_KAFKA_TOPIC, file' in r.stdout
    assert "c2VjcmV0" not in r.stdout


@pytest.mark.parametrize("name,expect", [
    ("eventhubs", 'kafka.bootstrap_servers = "mynamespace.servicebus.windows.net:9093"'),
    ("msk", 'kafka.sasl_mechanism = "SCRAM-SHA-512"'),
])
def test_readme_quick_start_passes_check_config(tmp_path, name, expect):
    """The quick start's settings, as the README gives them, are a valid configuration."""
    block = read(README).split(f"<!-- quickstart:{name} -->")[1].split("```")[1]
    lines = block.splitlines()
    assert 0 < len(lines) <= 20, f"quick start {name}: {len(lines)} lines"
    exports = [l for l in lines if l.startswith("export ")]
    assert exports and any("bin/worker --check-config" in l for l in lines)
    (tmp_path / "cosmos-key").write_text("c2VjcmV0LWtleS1mb3ItdGVzdHM=")
    (tmp_path / "kafka-password").write_text("secret")
    script = "set -e\n" + "\n".join(exports) + f"\nexec {WORKER_BIN} --check-config\n"
    r = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=clean_env(ORDERSINK_CONFIG=""),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert expect in r.stdout
    assert "cosmos.partition_key_path = (unset)" in r.stdout


def test_readme_is_a_front_door():
    size = os.path.getsize(README)
    assert size < 15000, f"README.md is {size} bytes; move detail to docs/"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {dest for _, dest, _ in links(README)}
    missing = [os.path.relpath(p, REPO) for p in DOCS if os.path.normpath(p) not in linked]
    assert not missing, f"README.md does not link {missing}"


@pytest.mark.parametrize("page", [os.path.relpath(p, REPO) for p in PAGES])
def test_relative_links_resolve(page):
    path = os.path.join(REPO, page)
    broken = []
    for target, dest, anchor in links(path):
        if not os.path.exists(dest):
            broken.append(f"{target}: no such file")
        elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {os.path.relpath(dest, REPO)}")
    assert not broken, f"{page}: {broken}"


def test_module_map_names_every_lib_file():
    page = read(os.path.join(REPO, "docs", "architecture.md"))
    missing = []
    for path in sorted(glob.glob(os.path.join(REPO, "lib", "*.[ch]"))):
        name = os.path.relpath(path, REPO)
        stem = name[:-2]
        if f"`{name}`" in page or (name.endswith(".h") and f"`{stem}.c` `.h`" in page):
            continue
        missing.append(name)
    assert not missing, f"docs/architecture.md module map lacks {missing}"
