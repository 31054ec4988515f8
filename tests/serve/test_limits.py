"""What the service refuses, and how: body size (413, unread), strict types and NaN (422),
non-UTF-8 (400), and every one of those statuses documented in the OpenAPI schema."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("pydantic_settings")

from fastapi.testclient import TestClient  # noqa: E402

from ecomrel.errors import ConfigError  # noqa: E402
from ecomrel.serve.app import create_app  # noqa: E402
from ecomrel.serve.backends import Backend  # noqa: E402
from ecomrel.serve.settings import ServeSettings, load_settings  # noqa: E402

JSON = {"content-type": "application/json"}
OK_BODY = {"query": "skillet", "candidates": [{"title": "Lodge skillet", "price": 20}]}


class _Fixed(Backend):
    name = "fixed"

    def predict_proba(self, queries, products):
        return np.tile([0.1, 0.2, 0.3, 0.4], (len(queries), 1))


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServeSettings(max_body_bytes=2000), backend=_Fixed())) as c:
        yield c


def test_body_over_the_limit_is_413_by_content_length_and_by_streamed_bytes(client):
    assert client.post("/v1/rank", json=OK_BODY).status_code == 200
    padded = b'{"query": "q", "candidates": [{"title": "t"}]}' + b" " * 5000  # trailing whitespace
    r = client.post("/v1/rank", content=padded, headers=JSON)
    assert r.status_code == 413 and "2,000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams in
        yield b'{"query": "q", "candidates": ['
        for _ in range(200):  # 3,000 bytes
            yield b'{"title": "t"},'
        yield b'{"title": "t"}]}'

    r = client.post("/v1/relevance", content=chunks(), headers=JSON)
    assert r.status_code == 413, r.text
    assert client.post("/v1/rank", json=OK_BODY).status_code == 200  # the service lives on


def test_the_limit_is_an_env_setting(monkeypatch):
    monkeypatch.setenv("ECOMREL_SERVE_MAX_BODY_BYTES", "123")
    monkeypatch.setenv("ECOMREL_SERVE_PORT", "9001")
    s = ServeSettings()
    assert s.max_body_bytes == 123 and s.port == 9001
    assert ServeSettings(port=9002).port == 9002  # an explicit option wins over the environment
    assert ServeSettings.model_fields["max_body_bytes"].default == 4 * 1024 * 1024


@pytest.mark.parametrize(
    ("candidate", "extra", "field"),
    [
        ({"title": "t", "price": False}, {}, "candidates.0.price"),
        ({"title": "t", "price": "12.5"}, {}, "candidates.0.price"),
        ({"title": 5}, {}, "candidates.0.title"),
        ({"title": "t"}, {"top_k": True}, "top_k"),
        ({"title": "t"}, {"top_k": "2"}, "top_k"),
        ({"title": "t", "attributes": {"size": 12}}, {}, "candidates.0.attributes.size"),
    ],
)
def test_request_types_are_strict(client, candidate, extra, field):
    r = client.post("/v1/rank", json={"query": "q", "candidates": [candidate], **extra})
    assert r.status_code == 422 and field in r.json()["message"], r.text


def test_integers_are_still_prices_and_nan_says_finite(client):
    ok = client.post("/v1/rank", json={"query": "q", "candidates": [{"title": "t", "price": 12}]})
    assert ok.status_code == 200
    for bad in (b"NaN", b"Infinity"):
        body = b'{"query": "q", "candidates": [{"title": "t", "price": ' + bad + b"}]}"
        r = client.post("/v1/rank", content=body, headers=JSON)
        assert r.status_code == 422 and "finite number" in r.json()["message"], r.text


def test_non_utf8_body_is_400(client):
    r = client.post("/v1/rank", content=b'{"query": "\xff\xfe"}', headers=JSON)
    assert r.status_code == 400 and r.json()["detail"]


def test_every_status_is_documented(client):
    spec = client.get("/openapi.json").json()
    for path in ("/v1/rank", "/v1/relevance"):
        assert {"200", "400", "401", "413", "422", "503"} <= set(spec["paths"][path]["post"]["responses"])
    metrics = spec["paths"]["/metrics"]["get"]["responses"]
    assert "application/json" in metrics["401"]["content"] and "text/plain" in metrics["200"]["content"]
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"port": 70000}, ["--port", "70000", "65535"]),
        ({"threads": 0}, ["--threads", "ECOMREL_SERVE_THREADS", "greater than or equal to 1"]),
        ({"max_body_bytes": 0}, ["--max-body-bytes"]),
    ],
)
def test_bad_settings_are_one_line_naming_the_option(given, words):
    with pytest.raises(ConfigError) as err:
        load_settings(**given)
    msg = str(err.value)
    assert "\n" not in msg and all(w in msg for w in words), msg
