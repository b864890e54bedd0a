#!/usr/bin/env python3
"""Optional check that LQFT 1.2.2's own reader accepts files written by `lqft`, and that
`lqft inspect-*` reports match LQFT's for LQFT's sample files.

LQFT's wrapper module `lqft_engine.py` needs the native `lqft_c_engine` module only for map
operations; its file-format code is pure Python. Point LQFT_ENGINE_DIR at a directory holding
both (an unpacked lqft_python_engine-1.2.2 wheel), or install the wheel:

    pip download --no-deps lqft-python-engine==1.2.2 -d /tmp/w && unzip /tmp/w/*.whl -d /tmp/w/x
    LQFT_ENGINE_DIR=/tmp/w/x python3 tests/compat/check_lqft_reads.py target/debug/lqft

It needs the `cryptography` package (LQFT's Ed25519 backend). Exit status 0 = all checks pass.
"""
import json
import os
import subprocess
import sys
import tempfile

if os.environ.get("LQFT_ENGINE_DIR"):
    sys.path.insert(0, os.environ["LQFT_ENGINE_DIR"])
import lqft_engine as lq  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, "tests", "data", "lqft-1.2.2")
LQFT_BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "lqft")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, stdin=None):
    proc = subprocess.run([LQFT_BIN, *args], input=stdin, capture_output=True)
    return proc.returncode, proc.stdout, proc.stderr


def lqft_load(path, **kw):
    payload = lq._extract_payload_from_file_document(lq._read_json_file(path), **kw)
    assert payload["format"] == "lqft-snapshot-v1", payload.get("format")
    items = lq._normalize_snapshot_items(payload.get("items", ()))
    meta = payload["metadata"]
    assert meta["size"] == len(items)
    return dict(items)


def strip_volatile(report):
    report = json.loads(json.dumps(report))
    for key in ("validity_in_payload", "verified_signer"):
        report.pop(key, None)
    if isinstance(report.get("validity"), dict):
        report["validity"].pop("seconds_until_expiry", None)
    return report


with tempfile.TemporaryDirectory() as tmp:
    data = {"alpha": "1", "beta": "\u00e9t\u00e9 \U0001f600", "nul\u0000key": "v\u0000al", "": "empty key"}
    lines = "".join(json.dumps({"key": k, "value": v}) + "\n" for k, v in data.items())
    priv, pub = os.path.join(tmp, "k.pem"), os.path.join(tmp, "k.pub.pem")
    rc, out, err = run("generate-ed25519-keypair", "--private-out", priv, "--public-out", pub)
    check(rc == 0, "lqft generate-ed25519-keypair")
    key_id = json.loads(out)["key_id"]
    pub_bytes = open(pub, "rb").read()
    check(lq._coerce_verification_key(pub_bytes, parameter_name="verify_key")["key_id"] == key_id,
          "LQFT derives the same key_id from our public key")
    check(lq._coerce_signing_key(open(priv, "rb").read(), parameter_name="sign_key")["key_id"] == key_id,
          "LQFT parses our PKCS#8 private key")
    check(oct(os.stat(priv).st_mode & 0o777) == "0o600", "private key mode 0600")

    cases = [
        ("plain.json", [], {}),
        ("plain.json.gz", [], {}),
        ("ed.json", ["--sign-key-file", priv, "--not-before", "2020-01-01T00:00:00Z",
                     "--expires-at", "2099-01-01T00:00:00+00:00", "--warn-before-expiry-seconds", "60"],
         {"verify_key": pub_bytes}),
        ("ed-trust.json", ["--sign-key-file", priv], {"trusted_signers": [pub_bytes]}),
        ("hmac.json.gz", ["--sign-key-text", "s3cret"], {"verify_key": "s3cret"}),
    ]
    for name, flags, verify in cases:
        path = os.path.join(tmp, name)
        rc, out, err = run("import", "--out", path, *flags, stdin=lines.encode())
        check(rc == 0, f"lqft import -> {name} ({err.decode().strip()})")
        try:
            loaded = lqft_load(path, **verify)
            check(loaded == data, f"LQFT loads {name} with {sorted(verify) or 'no key'}")
        except Exception as exc:  # noqa: BLE001
            check(False, f"LQFT loads {name}: {exc!r}")
        report = lq.inspect_persisted_file(path, **verify)
        check(report["effective_policy"]["allowed"], f"LQFT inspect allows {name}")
    # LQFT enforces the window we wrote.
    expired = os.path.join(tmp, "expired.json")
    run("import", "--out", expired, "--sign-key-file", priv, "--expires-at", "2001-01-01T00:00:00Z",
        stdin=lines.encode())
    try:
        lqft_load(expired, verify_key=pub_bytes)
        check(False, "LQFT rejects our expired file")
    except lq.LQFTPolicyError as exc:
        check(exc.code == "freshness_not_currently_valid", "LQFT rejects our expired file")

    # Our inspect reports match LQFT's on its own samples.
    s = SAMPLES
    pub_s = os.path.join(s, "pub.pem")
    inspections = [
        ("inspect-persisted-file", "snap.json", [], {}),
        ("inspect-persisted-file", "snap.json.gz", [], {}),
        ("inspect-persisted-file", "snap.hmac.json", ["--verify-key-text", "shared-secret"], {"verify_key": "shared-secret"}),
        ("inspect-persisted-file", "snap.hmac.json", ["--verify-key-text", "wrong"], {"verify_key": "wrong"}),
        ("inspect-persisted-file", "snap.ed.json", ["--verify-key-file", pub_s], {"verify_key": open(pub_s, "rb").read()}),
        ("inspect-persisted-file", "snap.ed.json", ["--trusted-signers", os.path.join(s, "trust")], {"trusted_signers": os.path.join(s, "trust")}),
        ("inspect-persisted-file", "bundle.json", [], {}),
        ("inspect-storage-engine-manifest", "engine-manifest.json", ["--verify-key-file", pub_s], {"verify_key": open(pub_s, "rb").read()}),
        ("inspect-sharded-storage-engine-manifest", "sharded-manifest.json", ["--verify-key-text", "s3cret"], {"verify_key": "s3cret"}),
        ("inspect-signer-trust-store", "trusted-signers.json", ["--verify-key-file", pub_s], {"verify_key": open(pub_s, "rb").read()}),
        ("inspect-signer-trust-store", "trust", [], {}),
    ]
    functions = {
        "inspect-persisted-file": lq.inspect_persisted_file,
        "inspect-storage-engine-manifest": lq.inspect_storage_engine_manifest,
        "inspect-sharded-storage-engine-manifest": lq.inspect_sharded_storage_engine_manifest,
        "inspect-signer-trust-store": lambda p, verify_key=None: lq.inspect_signer_trust_store(p, verify_key=verify_key),
    }
    cwd = os.getcwd()
    os.chdir(s)
    try:
        for command, name, flags, kw in inspections:
            rc, out, err = run(command, name, *flags)
            ours = strip_volatile(json.loads(out))
            theirs = strip_volatile(functions[command](name, **kw))
            same = ours == theirs
            check(same, f"{command} {name} {' '.join(f for f in flags if not f.startswith('/'))} matches LQFT")
            if not same:
                for key in sorted(set(ours) | set(theirs)):
                    if ours.get(key) != theirs.get(key):
                        print(f"     {key}: ours={json.dumps(ours.get(key))} lqft={json.dumps(theirs.get(key))}")
    finally:
        os.chdir(cwd)

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
