"""Property test of the order path against an independent JSON parser (Python's json module).

Generates orders whose ids, partition keys and other values carry escapes (\\u0000, surrogate
pairs, lone surrogates, control characters), big integers, exponents and fractions, runs them
through lib/order (build/asan/order_cli, ASan+UBSan) and checks, for every order:
- accepted: the document id, the partition key header and every other member equal the
  message's values exactly (Python ints are exact, floats are read as Decimal), the header is
  printable ASCII, and the body has exactly one "id" and one "kafka" member;
- refused: the message really breaks a rule (not JSON, a duplicate field, an id or key the
  service cannot store, a number it would store as another) -- computed here from the parsed values, so a
  valid order that is refused fails the test just as a changed value does.
"""
import json
import os
import random
import struct
import subprocess
from decimal import Decimal

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.path.join(ROOT, "build", "asan", "order_cli")
CASES = int(os.environ.get("ORDER_PROPERTY_CASES", "20000"))
MAX_ID_BYTES, MAX_PK_BYTES = 1023, 2048

# String pieces as they are written in the message (JSON text), not as values.
SAFE_PIECES = ["a", "o-1", "Z", " x", "\\n", "\\t", "\\\"", "\\/", "\\u00e9", "é", "🛒",
               "\\ud83d\\uded2", "\\uD83D\\uDE00", "\\u0041", "中", "\\uffff", "\x7f"]
# Pieces that make an id (or the whole message) unacceptable, some of them only as an id.
RISKY_PIECES = ["\\u0000", "\\u0001", "/", "?", "#", "\\\\", "\\ud800", "\\udc00",
                "\\u007f", " ", "x" * 300]
NUM_LITERALS = ["0", "-0", "5", "-128", "5.5", "1e3", "1E+2", "-2.5e-3", "12313.1221", "0.1",
                "2147483647", "19.99", "9007199254740992", "-9007199254740992", "1.5e300", "0.0",
                "0.30000000000000004", "5e-324", "2.2250738585072014e-308", "1." + "0" * 70]
UNSTORABLE = ["9007199254740993", "-9007199254740993", "123456789012345678901234567890", "1e400",
              "1e-400", "4.9e-324", "0.1000000000000000001", "3.14159265358979323846", "0." + "1" * 70]
BAD_NUMBERS = ["01", "1.", "-", "+1", ".5"]


def rand_string_lit(rng):
    n = rng.choice([1, 1, 2, 3, 5, 8])
    body = "".join(rng.choice(RISKY_PIECES if rng.random() < 0.04 else SAFE_PIECES)
                   for _ in range(n))
    if rng.random() < 0.01:
        body = ""
    if rng.random() < 0.02:
        body = "k" * rng.choice([1019, 1020, 1023, 1024, 2047, 2048, 2049])
    if rng.random() < 0.005:
        body += "\t"  # a raw control character: not JSON
    return '"' + body + '"'


def rand_value_lit(rng, depth=0):
    r = rng.random()
    if r < 0.45:
        return rand_string_lit(rng)
    if r < 0.8:
        r2 = rng.random()
        return rng.choice(BAD_NUMBERS if r2 < 0.005 else UNSTORABLE if r2 < 0.03 else NUM_LITERALS)
    if r < 0.88:
        return rng.choice(["true", "false", "null"])
    if depth < 2 and r < 0.94:
        return "[" + ",".join(rand_value_lit(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    if depth < 2:
        return "{" + ",".join(f'{rand_string_lit(rng)}:{rand_value_lit(rng, depth + 1)}'
                              for _ in range(rng.randint(0, 3))) + "}"
    return "1"


def rand_order(rng):
    members = []
    nested = rng.random() < 0.3
    id_field = "orderId" if rng.random() < 0.8 else "id"
    path = "/customer/id" if nested else "/customerId"
    if rng.random() < 0.98:
        members.append((f'"{id_field}"', rand_string_lit(rng) if rng.random() < 0.6 else rand_value_lit(rng)))
    if rng.random() < 0.02:
        members.append((f'"{id_field}"', rand_value_lit(rng)))  # duplicate
    if rng.random() < 0.98:
        key = rand_string_lit(rng) if rng.random() < 0.5 else rand_value_lit(rng)
        if nested:
            inner = [('"id"', key)] + ([('"name"', rand_string_lit(rng))] if rng.random() < 0.5 else [])
            rng.shuffle(inner)
            key = "{" + ",".join(f"{k}:{v}" for k, v in inner) + "}"
            members.append(('"customer"', key))
        else:
            members.append(('"customerId"', key))
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(['"id"', '"kafka"', '"total"', '"note"', '"orderId\\u0000x"', '"id\\u0000"',
                           '"i\\u0064"', '"kafka\\u0000"', rand_string_lit(rng)])
        members.append((name, rand_value_lit(rng)))
    rng.shuffle(members)
    ws = rng.choice(["", " ", "\n"])
    text = "{" + ws + ("," + ws).join(f"{k}{ws}:{ws}{v}" for k, v in members) + ws + "}"
    return id_field, path, text


def strict_loads(text):
    """json.loads that keeps member order and duplicates, reads floats exactly, and refuses
    NaN/Infinity (not JSON)."""
    def bad_constant(c):
        raise ValueError(c)
    return json.loads(text, object_pairs_hook=lambda pairs: pairs, parse_float=Decimal,
                      parse_constant=bad_constant)


def get(pairs, name):
    hits = [v for k, v in pairs if k == name]
    return hits


def utf8_len(s):
    try:
        return len(s.encode("utf-8"))
    except UnicodeEncodeError:
        return None  # a lone surrogate: not a Unicode string


def all_numbers(v):
    if isinstance(v, bool):
        return
    if isinstance(v, (int, Decimal)):
        yield v
    elif isinstance(v, list):
        for item in v:
            yield from all_numbers(item)
    elif isinstance(v, tuple):
        yield from all_numbers(v[1])


def fits_double(x):
    """What a store that keeps doubles (Cosmos) keeps unchanged: Python's float() rounds
    correctly and repr() gives the shortest form that reads back."""
    if isinstance(x, int):
        return abs(x) <= 2 ** 53
    f = float(x)
    if f in (float("inf"), float("-inf")):
        return False
    return x == 0 or Decimal(repr(f)) == x


def all_strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for item in v:
            yield from all_strings(item)
    elif isinstance(v, tuple):
        yield from all_strings(v[0])
        yield from all_strings(v[1])


def expected_verdict(msg, id_field, path):
    """(ok, why) for a message Python parsed: what the service could store unchanged."""
    if not isinstance(msg, list):
        return False, "not an object"
    if any(utf8_len(s) is None for s in all_strings(msg)):
        return False, "a lone surrogate (json.loads takes it; it is no Unicode string)"
    if not all(fits_double(x) for x in all_numbers(msg)):
        return False, "a number Cosmos would store as another"
    ids = get(msg, id_field)
    if not ids or ids[-1] is None:
        return False, "missing id"
    if len(ids) > 1:
        return False, "duplicate id"
    idv = ids[0]
    if isinstance(idv, bool) or not isinstance(idv, (str, int)):
        return False, "id type"
    if isinstance(idv, str):
        n = utf8_len(idv)
        if n is None or n == 0 or n > MAX_ID_BYTES or idv.endswith(" ") or \
                any(c in "/\\?#" or ord(c) < 0x20 or ord(c) == 0x7F for c in idv):
            return False, "id not storable"
    elif len(str(idv)) > MAX_ID_BYTES:
        return False, "id too long"
    node = msg
    for step in path.strip("/").split("/"):
        if not isinstance(node, list):
            return False, "missing key"
        hits = get(node, step)
        if len(hits) > 1:
            return False, "duplicate key"
        if not hits:
            return False, "missing key"
        node = hits[0]
    if node is None:
        return False, "missing key"
    if isinstance(node, bool):
        return True, ""
    if isinstance(node, str):
        n = utf8_len(node)
        return (n is not None and n <= MAX_PK_BYTES), "key string"
    if isinstance(node, (int, Decimal)):
        return True, ""  # checked with every number above
    return False, "key type"


def run_cli(cases):
    def field(b):
        return struct.pack(">I", len(b)) + b
    data = b"".join(field(i.encode()) + field(p.encode()) + field(t.encode("utf-8", "surrogatepass"))
                    for i, p, t in cases)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    out = subprocess.run([CLI], input=data, stdout=subprocess.PIPE, check=True, env=env).stdout
    return out.decode().splitlines()


def strip_ours(pairs):
    return [(k, v) for k, v in pairs if k not in ("id", "kafka")]


def test_ids_keys_and_values_reach_the_document_exactly_or_are_dead_lettered():
    if not os.access(CLI, os.X_OK):
        pytest.fail(f"{CLI} missing: run `make build/asan/order_cli`")
    rng = random.Random(11)
    cases = [rand_order(rng) for _ in range(CASES)]
    lines = run_cli(cases)
    assert len(lines) == len(cases)
    accepted = refused = 0
    for (id_field, path, text), line in zip(cases, lines):
        reason, id_hex, pk_hex, body_hex = line.split("\t")
        try:
            msg = strict_loads(text)
        except ValueError:
            assert reason != "ok", f"accepted what is not JSON: {text!r}"
            refused += 1
            continue
        want_ok, why = expected_verdict(msg, id_field, path)
        assert (reason == "ok") == want_ok, f"{reason} but expected {'ok' if want_ok else why}: {text!r}"
        if reason != "ok":
            refused += 1
            continue
        accepted += 1
        doc_id = bytes.fromhex(id_hex).decode("utf-8")
        pk_json = bytes.fromhex(pk_hex).decode("ascii")
        body = bytes.fromhex(body_hex).decode("utf-8")
        idv = get(msg, id_field)[0]
        assert doc_id == (idv if isinstance(idv, str) else str(idv)) or (idv == 0 and doc_id == "-0"), text
        assert all(0x20 <= ord(c) < 0x7F for c in pk_json), pk_json
        node = msg
        for step in path.strip("/").split("/"):
            node = get(node, step)[0]
        pk = strict_loads(pk_json)
        assert len(pk) == 1 and type(pk[0]) is type(node) and pk[0] == node, (pk_json, text)
        doc = strict_loads(body)
        assert [k for k, _ in doc].count("id") == 1 and [k for k, _ in doc].count("kafka") == 1, body
        assert get(doc, "id")[0] == doc_id
        assert strip_ours(doc) == strip_ours(msg), (body, text)
    # The generator must exercise both sides, or the test proves nothing.
    print(f"{accepted} accepted, {refused} refused of {CASES}")
    assert accepted > CASES // 10 and refused > CASES // 10, (accepted, refused)
