"""The OpenAI-compatible teacher against a fake chat-completions server started in the test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ecomrel.reason.analyst import AttributeAnalyst
from ecomrel.reason.chains import build_chains
from ecomrel.reason.chains_config import ChainConfig, TeacherConfig
from ecomrel.reason.rules import apply_rules
from ecomrel.reason.teacher import (
    BuiltinTeacher,
    OpenAITeacher,
    TeacherError,
    TeacherRequest,
    build_messages,
    make_teacher,
    parse_verdict,
)

pytest.importorskip("httpx")


class FakeOpenAI:
    """A tiny OpenAI-compatible server: answers from a script of (status, delay_s, headers) steps,
    then 200s; the answer's verdict is the gold grade named in the prompt."""

    def __init__(self) -> None:
        self.script: list[tuple[int, float, dict[str, str]]] = []
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                status, delay, headers = fake.script.pop(0) if fake.script else (200, 0.0, {})
                if delay:
                    time.sleep(delay)
                if status == 200:
                    user = body["messages"][-1]["content"]
                    gold = user.split("The correct grade is: ")[1].split(" ")[0]
                    text = f"1. Query understanding: fine.\n5. Verdict: {gold}"
                    payload = {"choices": [{"message": {"role": "assistant", "content": text}}]}
                else:
                    payload = {"error": {"message": f"scripted {status}"}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # do not wait for deliberately slow answers on shutdown
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _config(url: str, **kw) -> TeacherConfig:
    base = {
        "kind": "openai",
        "base_url": url,
        "model": "fake-1",
        "api_key_env": "ECOMREL_TEST_KEY",
        "timeout_s": 2.0,
        "max_retries": 3,
        "backoff_s": 0.01,
        "max_backoff_s": 0.05,
        "requests_per_second": 1000.0,
    }
    return TeacherConfig(**(base | kw))


@pytest.fixture()
def request_for(mini_products):
    analyst = AttributeAnalyst.from_products(mini_products, min_count=1)

    def make(query: str = "running shoes", pid: str = "p1", gold: int = 3) -> TeacherRequest:
        row = mini_products.set_index("product_id").loc[pid].to_dict() | {"product_id": pid}
        a = analyst.analyze(query, row)
        return TeacherRequest(query=query, product=row, gold_grade=gold, analysis=a, outcome=apply_rules(a))

    return make


def test_answers_are_cached_on_disk(fake, tmp_path, request_for, monkeypatch):
    monkeypatch.setenv("ECOMREL_TEST_KEY", "sk-test")
    teacher = OpenAITeacher(_config(fake.url), cache_dir=tmp_path / "cache")
    reply = teacher.explain(request_for())
    assert reply.implied_grade == 3 and reply.source == "api"
    assert fake.requests[0]["path"] == "/v1/chat/completions"
    assert fake.requests[0]["auth"] == "Bearer sk-test"
    assert fake.requests[0]["body"]["model"] == "fake-1"
    files = list((tmp_path / "cache").glob("*.json"))
    assert len(files) == 1
    stored = json.loads(files[0].read_text())
    assert "sk-test" not in files[0].read_text() and stored["request"]["model"] == "fake-1"
    # a second teacher (a resumed build) reads the cache: no new request
    again = OpenAITeacher(_config(fake.url), cache_dir=tmp_path / "cache").explain(request_for())
    assert again.source == "cache" and again.reasoning == reply.reasoning
    assert len(fake.requests) == 1
    # another pair is another request
    teacher.explain(request_for("nike running shoes", "p2", 2))
    assert len(fake.requests) == 2 and len(list((tmp_path / "cache").glob("*.json"))) == 2


def test_retries_on_500_and_429(fake, request_for):
    fake.script = [(500, 0.0, {}), (429, 0.0, {"Retry-After": "0.01"}), (503, 0.0, {})]
    teacher = OpenAITeacher(_config(fake.url))
    reply = teacher.explain(request_for())
    assert reply.implied_grade == 3
    assert len(fake.requests) == 4 and teacher.stats["retries"] == 3


def test_gives_up_after_max_retries(fake, request_for):
    fake.script = [(500, 0.0, {})] * 10
    teacher = OpenAITeacher(_config(fake.url, max_retries=2))
    with pytest.raises(TeacherError, match="gave up after 3 attempts"):
        teacher.explain(request_for())
    assert len(fake.requests) == 3


def test_client_errors_are_not_retried(fake, request_for):
    fake.script = [(401, 0.0, {})]
    with pytest.raises(TeacherError, match="HTTP 401"):
        OpenAITeacher(_config(fake.url)).explain(request_for())
    assert len(fake.requests) == 1


def test_timeouts_are_retried_then_reported(fake, request_for):
    fake.script = [(200, 0.6, {})]  # the first answer comes too late, the retry is fast
    teacher = OpenAITeacher(_config(fake.url, timeout_s=0.2))
    assert teacher.explain(request_for()).implied_grade == 3
    assert len(fake.requests) == 2
    fake.script = [(200, 0.6, {})] * 3
    slow = OpenAITeacher(_config(fake.url, timeout_s=0.2, max_retries=1))
    with pytest.raises(TeacherError, match="timed out"):
        slow.explain(request_for("lawn mower", "p14"))


def test_rate_limit_spaces_requests(fake, request_for):
    teacher = OpenAITeacher(_config(fake.url, requests_per_second=20.0))
    start = time.monotonic()
    for pid in ("p1", "p2", "p18", "p19"):
        teacher.explain(request_for("running shoes", pid))
    assert time.monotonic() - start >= 3 / 20.0 - 0.01


def test_build_chains_with_the_api_teacher(fake, tmp_path, mini_pairs):
    cfg = ChainConfig(teacher=_config(fake.url, cache_dir=str(tmp_path / "c")))
    chains, report = build_chains(mini_pairs, kinds=("ee",), config=cfg)
    assert len(chains) == len(mini_pairs) and (chains["status"] == "kept").all()
    assert (chains["origin"] == "api").all()
    assert all(t.startswith(f"{g}\n") for t, g in zip(chains["target"], chains["gold_grade"], strict=True))
    assert report["teacher"]["requests"] == len(mini_pairs)


def test_messages_verdicts_and_factory(request_for):
    msgs = build_messages(request_for())
    assert msgs[0]["role"] == "system" and "Verdict" in msgs[0]["content"]
    assert "Query: running shoes" in msgs[1]["content"] and "exact (3)" in msgs[1]["content"]
    assert "Notes from an automatic analysis" in msgs[1]["content"]
    assert "Notes" not in build_messages(request_for(), include_analysis=False)[1]["content"]
    assert parse_verdict("blah\nVerdict: Substitute") == 2
    assert parse_verdict("Verdict: exact ... final verdict: 1") == 1
    assert parse_verdict("no conclusion") is None
    assert isinstance(make_teacher("builtin"), BuiltinTeacher)
    assert isinstance(make_teacher(None), BuiltinTeacher)
    with pytest.raises(ValueError, match="unknown teacher"):  # a ConfigError (a ValueError)
        make_teacher("gpt")
    reply = BuiltinTeacher().explain(request_for())
    assert reply.implied_grade == 3 and reply.reasoning.splitlines()[0].startswith("1. Query understanding")


# --- failing early (issue 10) ------------------------------------------------------------------------


def test_no_key_for_a_public_endpoint_fails_before_any_request(monkeypatch, tmp_path):
    from ecomrel.errors import ConfigError

    monkeypatch.delenv("ECOMREL_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="ECOMREL_TEST_KEY is not set"):
        make_teacher(_config("https://api.example.com/v1", cache_dir=str(tmp_path / "c")))
    assert not (tmp_path / "c").exists()  # nothing written
    with pytest.raises(ConfigError, match="--base-url"):
        make_teacher(_config(""))
    with pytest.raises(ConfigError, match="--base-url"):
        make_teacher(_config("api.example.com/v1"))
    # a local server may run without a key; with a key any endpoint is fine
    assert isinstance(make_teacher(_config("http://localhost:8000/v1")), OpenAITeacher)
    monkeypatch.setenv("ECOMREL_TEST_KEY", "sk")
    assert isinstance(make_teacher(_config("https://api.example.com/v1")), OpenAITeacher)


def _closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there any more


def test_consecutive_connection_failures_stop_the_teacher(request_for):
    from ecomrel.reason.teacher import MAX_CONNECTION_FAILURES, TeacherUnavailable

    teacher = OpenAITeacher(_config(_closed_port_url(), max_retries=10))
    with pytest.raises(TeacherUnavailable, match="connection failures in a row"):
        teacher.explain(request_for())
    assert teacher.stats["requests"] == MAX_CONNECTION_FAILURES  # not max_retries + 1 = 11
    start = time.monotonic()
    with pytest.raises(TeacherUnavailable):  # the next pair fails at once, without a request
        teacher.explain(request_for("lawn mower", "p14"))
    assert teacher.stats["requests"] == MAX_CONNECTION_FAILURES and time.monotonic() - start < 0.5


def test_chains_cli_fails_before_the_first_pair_without_key(tmp_path, monkeypatch, mini_products):
    from typer.testing import CliRunner

    from ecomrel.cli import app
    from ecomrel.data.sample import write_sample

    data = tmp_path / "data"
    write_sample(data, n_products=60, n_queries=12, seed=0)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ECOMREL_TEACHER_BASE_URL", raising=False)
    r = CliRunner().invoke(
        app, ["reason", "chains", "--data", str(data), "--out", str(tmp_path / "run"), "--teacher", "openai"]
    )
    assert r.exit_code == 2 and "OPENAI_API_KEY" in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "run" / "cot" / "chains.parquet").exists()
    bad = CliRunner().invoke(
        app, ["reason", "chains", "--data", str(data), "--out", str(tmp_path / "run"), "--split", "nosuch"]
    )
    assert bad.exit_code == 2 and "nosuch" in bad.output and "train" in bad.output, bad.output
