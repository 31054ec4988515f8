"""A real uvicorn server on 127.0.0.1 (free port), spoken to over HTTP; graceful shutdown."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from ecomrel.serve.app import create_app  # noqa: E402
from ecomrel.serve.backends import Backend  # noqa: E402
from ecomrel.serve.settings import ServeSettings  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """uvicorn in a background thread; ``stop()`` is what SIGTERM does (should_exit → graceful)."""

    def __init__(self, app, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=10
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    def __exit__(self, *exc) -> None:
        self.stop()


def test_real_uvicorn_over_http(tiny_student):
    port = _free_port()
    app = create_app(ServeSettings(model=tiny_student, port=port))
    cands = [{"product_id": str(i), "title": f"skillet {i} in"} for i in range(50)]
    with _Server(app, port) as srv, httpx.Client(base_url=srv.url, timeout=30) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").json()["status"] == "ready"
        r = c.post("/v1/rank", json={"query": "10 in skillet", "candidates": cands})
        assert r.status_code == 200
        scores = [x["score"] for x in r.json()["results"]]
        assert len(scores) == 50 and scores == sorted(scores, reverse=True)
        assert c.post("/v1/rank", json={"query": "x", "candidates": []}).status_code == 422
        assert "ecomrel_requests_total" in c.get("/metrics").text
    with pytest.raises(httpx.TransportError):
        httpx.get(srv.url + "/healthz", timeout=2)


class _Slow(Backend):
    name = "slow"

    def __init__(self) -> None:
        self.started = threading.Event()

    def predict_proba(self, queries, products):
        if queries != ["warm up"]:
            self.started.set()
            time.sleep(0.8)
        return np.tile([0.1, 0.2, 0.3, 0.4], (len(queries), 1))


def test_graceful_shutdown_finishes_in_flight_requests():
    """Stop the server only once all three requests are queued in the batcher (its pending count):
    a request that was accepted is answered; a client still connecting would race the shutdown."""
    port = _free_port()
    backend = _Slow()
    app = create_app(ServeSettings(port=port, max_wait_ms=1), backend=backend)
    results: list[int] = []
    errors: list[BaseException] = []
    with _Server(app, port) as srv:

        def call() -> None:
            try:
                r = httpx.post(
                    srv.url + "/v1/rank", json={"query": "q", "candidates": [{"title": "t"}]}, timeout=30
                )
                results.append(r.status_code)
            except BaseException as exc:  # recorded: a silent thread death would hide the cause
                errors.append(exc)

        clients = [threading.Thread(target=call) for _ in range(3)]
        for t in clients:
            t.start()
        assert backend.started.wait(10)
        deadline = time.time() + 10
        while app.state.ecomrel["batcher"].pending_pairs < 3:  # one pair per request
            assert time.time() < deadline, f"only {app.state.ecomrel['batcher'].pending_pairs} queued"
            time.sleep(0.005)
        srv.stop()  # SIGTERM equivalent while the model is busy with the requests
        for t in clients:
            t.join(15)
    assert errors == []
    assert results == [200, 200, 200]
    assert not srv.thread.is_alive()
