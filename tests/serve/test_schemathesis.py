"""Property-based API test: schemathesis generates requests from the OpenAPI schema, every check on.

Both positive cases (valid per schema) and negative cases (schema-violating) run with every
registered schemathesis check, as ``schemathesis run --checks all`` does: no 5xx, only documented
status codes, content types, headers and bodies, valid data accepted, invalid data rejected.
The example count per operation and mode is bounded (``ECOMREL_SCHEMATHESIS_EXAMPLES``, default 12).
The API key is configured, so every generated request carries it (schemathesis sends it as the
documented header). Cases are driven with plain Hypothesis ``@given`` per operation because
schemathesis' lazy pytest fixture loader does not support pytest 9.
"""

from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from ecomrel.serve.app import create_app  # noqa: E402
from ecomrel.serve.settings import ServeSettings  # noqa: E402

KEY = {"X-API-Key": "k3y"}


def _all_checks():
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    return CHECKS.get_all()


def test_api_passes_all_schemathesis_checks(tiny_student, monkeypatch):
    from schemathesis import GenerationMode

    monkeypatch.setenv("ECOMREL_SCHEMA_KEY", KEY["X-API-Key"])
    # small limits keep generated payloads (and the tiny model's work) small
    app = create_app(
        ServeSettings(
            model=tiny_student,
            max_pairs=4,
            max_candidates=6,
            max_query_chars=40,
            max_text_chars=80,
            max_attributes=3,
            api_key_env="ECOMREL_SCHEMA_KEY",
        )
    )
    from fastapi.testclient import TestClient

    with TestClient(app) as c:  # the schema itself is behind the key
        spec = c.get("/openapi.json", headers=KEY).json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = app  # requests go to the ASGI app in-process
    ops = [r.ok() for r in schema.get_all_operations()]
    assert {op.path for op in ops} >= {"/v1/relevance", "/v1/rank", "/healthz", "/readyz", "/metrics"}
    checks = _all_checks()
    assert len(checks) >= 8, [getattr(c, "__name__", c) for c in checks]
    seen: dict[str, int] = {}

    for op in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode == GenerationMode.NEGATIVE and op.method.upper() == "GET":
                continue  # GET endpoints take no input to break
            _runner(op, mode, seen, checks)()
    assert any(k.startswith("POST /v1/rank positive 200") for k in seen), seen
    assert any(k.startswith("POST /v1/rank negative 422") for k in seen), seen
    assert not [k for k in seen if k.split()[-1].startswith("5")], seen


def _runner(op, mode, seen: dict[str, int], checks):
    """A Hypothesis test over one operation in one generation mode, recording status codes."""

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=int(os.environ.get("ECOMREL_SCHEMATHESIS_EXAMPLES", "12")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case):
        resp = case.call_and_validate(headers=KEY, checks=checks)
        key = f"{op.method.upper()} {op.path} {mode.value} {resp.status_code}"
        seen[key] = seen.get(key, 0) + 1

    return run


@pytest.mark.integration
def test_schemathesis_cli_checks_all_against_a_served_onnx_student(tiny_student, tmp_path):
    """``schemathesis run --checks all`` (bounded examples) against ``ecomrel serve`` on real uvicorn."""
    import shutil
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists() or shutil.which("ecomrel", path=str(cli.parent)) is None:
        pytest.skip("schemathesis / ecomrel console scripts not installed beside this Python")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, ECOMREL_SCHEMA_KEY=KEY["X-API-Key"])
    args = ["serve", "--model", str(tiny_student), "--port", str(port), "--api-key-env", "ECOMREL_SCHEMA_KEY"]
    server = subprocess.Popen([str(cli.parent / "ecomrel"), *args, "--max-candidates", "6"], env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline and server.poll() is None, "ecomrel serve did not start"
            time.sleep(0.2)
        n = os.environ.get("ECOMREL_SCHEMATHESIS_EXAMPLES", "12")
        run = subprocess.run(
            [str(cli), "run", url + "/openapi.json", "--checks", "all", "-n", n, "--generation-deterministic"]
            + ["-H", f"X-API-Key: {KEY['X-API-Key']}", "--phases", "examples,coverage,fuzzing"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert "No issues found" in run.stdout, run.stdout[-2000:]
    finally:
        server.terminate()
        server.wait(30)
