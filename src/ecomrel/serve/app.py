"""The relevance service: FastAPI app, Prometheus metrics, API-key guard, graceful shutdown.

Endpoints::

    POST /v1/relevance   pairs → grade, probabilities, expected grade, tier
    POST /v1/rank        query + candidates → candidates ordered by expected grade
    GET  /healthz        the process is alive (always open)
    GET  /readyz         the model is loaded and the batcher accepts work (always open)
    GET  /metrics        Prometheus text format
    GET  /openapi.json   the schema (FastAPI), /docs the UI

With an API key configured every endpoint except /healthz and /readyz needs header
``X-API-Key``: 401 without it. A request body larger than ``max_body_bytes`` gets 413 before it is
read (a declared Content-Length is checked first; a streamed body is counted as it arrives).
Request fields are strictly typed (``"price": "12.5"`` or ``"top_k": true`` → 422).
Scoring goes through :class:`~ecomrel.serve.batching.MicroBatcher`.
On shutdown uvicorn stops accepting connections and waits for in-flight requests; the lifespan
then drains the batcher, so a request that was accepted is answered.
"""

import secrets
import statistics
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecomrel import __version__
from ecomrel.decisions import Decisions, find_decisions
from ecomrel.serve.backends import Backend, Tiering, load_backend
from ecomrel.serve.batching import MicroBatcher, NotAccepting, QueueFull
from ecomrel.serve.schemas import ErrorOut, Health, RankResponse, RelevanceResponse, build_schemas
from ecomrel.serve.settings import ServeSettings

API_KEY_HEADER = "X-API-Key"
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
_api_key_doc = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="Required when the server has a key."
)


# --- metrics -----------------------------------------------------------------------------------------


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (several apps may share a process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("ecomrel_requests", "HTTP requests", ["endpoint", "status"], registry=r)
        self.latency = Histogram(
            "ecomrel_request_seconds",
            "Request latency",
            ["endpoint"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.inflight = Gauge("ecomrel_inflight_requests", "Requests being handled", registry=r)
        self.pairs = Counter("ecomrel_pairs_scored", "Pairs scored by the model", registry=r)
        self.batch_pairs = Histogram(
            "ecomrel_batch_pairs",
            "Pairs per model call (micro-batch size)",
            registry=r,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
        )
        self.batch_seconds = Histogram(
            "ecomrel_batch_seconds",
            "Model call latency",
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.queue = Gauge("ecomrel_queue_pairs", "Pairs waiting for the model", registry=r)
        self.info = Gauge("ecomrel_model_info", "Serving backend", ["backend", "version"], registry=r)

    def on_batch(self, n: int, seconds: float) -> None:
        self.pairs.inc(n)
        self.batch_pairs.observe(n)
        self.batch_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


# --- request body limit ------------------------------------------------------------------------------


class BodyTooLarge(HTTPException):
    """Raised while reading a request body past the limit; the app answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413,
            detail=f"request body exceeds {limit:,} bytes (max_body_bytes; ECOMREL_SERVE_MAX_BODY_BYTES)",
        )


class BodyLimit:
    """ASGI middleware: refuse a body over ``max_bytes`` without reading it into memory.

    A declared ``Content-Length`` over the limit fails on the first read (nothing is read); a body
    without one (chunked) is counted chunk by chunk and fails as soon as it passes the limit, so
    at most ``max_bytes`` plus one chunk is ever held. The exception is an ``HTTPException``, which
    FastAPI re-raises from its body reader, so the answer is the app's JSON 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        seen = 0
        limit = self.max_bytes

        async def limited() -> Message:
            nonlocal seen
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


# --- the app -----------------------------------------------------------------------------------------


def _error_message(errors: Sequence[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()))
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def _decisions_for(folder: str | Path | None) -> Decisions | None:
    """The model's ``decisions.json`` (cut points + calibration), if it has one (``ecomrel calibrate``)."""
    path = find_decisions(folder)
    return Decisions.load(path) if path is not None else None


def _results(
    probs: np.ndarray, tiering: Tiering, names: list[str], decisions: Decisions | None = None
) -> list[dict[str, Any]]:
    probs = np.asarray(probs, dtype=np.float64)
    expected = probs @ np.arange(probs.shape[1])
    grades = decisions.grade(expected) if decisions is not None else probs.argmax(1)
    calibrated = decisions.calibrated(expected) if decisions is not None else None
    tiers = tiering(probs)
    return [
        {
            "grade": int(g),
            "grade_name": names[int(g)] if int(g) < len(names) else str(int(g)),
            "probabilities": [round(float(x), 6) for x in p],
            "expected_grade": round(float(e), 6),
            "tier": t,
            "calibrated_score": None if calibrated is None else round(float(calibrated[i]), 6),
        }
        for i, (p, g, e, t) in enumerate(zip(probs, grades, expected, tiers, strict=True))
    ]


def create_app(settings: ServeSettings | None = None, backend: Backend | None = None) -> FastAPI:
    """The service. ``backend`` may be passed in (tests, embedding); otherwise loaded at startup."""
    settings = settings or ServeSettings()
    api_key = settings.api_key()  # fail at creation, not on the first request
    schemas = build_schemas(settings)
    metrics = Metrics()
    state: dict[str, Any] = {"backend": backend, "batcher": None, "ready": False, "tiering": None}
    if backend is not None:  # a bad thresholds file fails here, not inside the server's lifespan
        state["tiering"] = Tiering.for_model(getattr(backend, "model_dir", None) or settings.model)
        state["decisions"] = _decisions_for(getattr(backend, "model_dir", None) or settings.model)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        be = state["backend"]
        if be is None:
            be = load_backend(
                settings.backend,
                settings.model,
                threads=settings.threads,
                **settings.backend_options(),
            )
            state["backend"] = be
        if state["tiering"] is None:
            state["tiering"] = Tiering.for_model(getattr(be, "model_dir", None) or settings.model)
            state["decisions"] = _decisions_for(getattr(be, "model_dir", None) or settings.model)
        be.predict_proba(["warm up"], [{"title": "warm up"}])  # first call allocates; keep it off the clock
        batcher = MicroBatcher(
            be.predict_proba,
            max_batch=settings.max_batch,
            max_wait_ms=settings.max_wait_ms,
            max_queue_pairs=settings.max_queue_pairs,
            on_batch=metrics.on_batch,
        )
        await batcher.start()
        state["batcher"] = batcher
        metrics.info.labels(backend=be.name, version=__version__).set(1)
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            await batcher.stop(timeout=settings.graceful_timeout_s)
            be.close()

    app = FastAPI(
        title="ecomrel relevance service",
        version=__version__,
        description="Query–product relevance grades and ranking from the distilled cross-encoder "
        "(or the LLM judge). Grades: 0 irrelevant, 1 complement, 2 substitute, 3 exact.",
        lifespan=lifespan,
    )
    app.state.ecomrel = state
    app.state.settings = settings
    app.state.metrics = metrics
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    @app.middleware("http")
    async def guard_and_measure(request: Request, call_next):
        path = request.url.path
        if api_key is not None and path not in OPEN_PATHS:
            given = request.headers.get(API_KEY_HEADER, "")
            if not secrets.compare_digest(given.encode(), api_key.encode()):
                metrics.requests.labels(endpoint="unauthorized", status="401").inc()
                return JSONResponse(
                    {"detail": f"missing or invalid API key (header {API_KEY_HEADER})"},
                    status_code=401,
                    headers={"WWW-Authenticate": "ApiKey"},
                )
        t0 = time.perf_counter()
        metrics.inflight.inc()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            metrics.inflight.dec()
            route = request.scope.get("route")
            endpoint = getattr(route, "path", None) or "other"
            metrics.requests.labels(endpoint=endpoint, status=str(status)).inc()
            metrics.latency.labels(endpoint=endpoint).observe(time.perf_counter() - t0)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k not in ("input", "url")} for e in exc.errors()]
        return JSONResponse(
            {"detail": jsonable_encoder(errors), "message": _error_message(errors)}, status_code=422
        )

    async def score(queries: list[str], products: list[dict[str, Any]]) -> np.ndarray:
        batcher: MicroBatcher | None = state["batcher"]
        if batcher is None or not state["ready"]:
            raise NotAccepting("the model is not loaded yet")
        metrics.queue.set(batcher.pending_pairs + len(queries))
        return await batcher.submit(queries, products)

    responses = {
        400: {"model": ErrorOut, "description": "The body cannot be parsed (e.g. not UTF-8)"},
        401: {"model": ErrorOut, "description": "Missing or invalid API key"},
        413: {
            "model": ErrorOut,
            "description": f"Request body over {settings.max_body_bytes:,} bytes (max_body_bytes)",
        },
        422: {"model": ErrorOut, "description": "Invalid request: the message names the field and why"},
        503: {"model": ErrorOut, "description": "Not ready, shutting down, or overloaded"},
    }

    @app.exception_handler(NotAccepting)
    async def not_accepting(request: Request, exc: NotAccepting) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    RelevanceRequest = schemas.RelevanceRequest
    RankRequest = schemas.RankRequest

    @app.post(
        "/v1/relevance",
        response_model=RelevanceResponse,
        responses=responses,
        tags=["relevance"],
        dependencies=[Security(_api_key_doc)],
    )
    async def relevance(req: RelevanceRequest) -> dict[str, Any]:  # type: ignore[valid-type]
        """Grade each (query, product) pair: grade, four probabilities, expected grade and tier."""
        pairs = req.pairs  # type: ignore[attr-defined]
        products = [p.product.model_dump(exclude_none=True) for p in pairs]
        probs = await score([p.query for p in pairs], products)
        be: Backend = state["backend"]
        rows = _results(probs, state["tiering"], be.grade_names, state.get("decisions"))
        for row, prod in zip(rows, products, strict=True):
            row["product_id"] = prod.get("product_id")
        return {"backend": be.name, "results": rows}

    @app.post(
        "/v1/rank",
        response_model=RankResponse,
        responses=responses,
        tags=["relevance"],
        dependencies=[Security(_api_key_doc)],
    )
    async def rank(req: RankRequest) -> dict[str, Any]:  # type: ignore[valid-type]
        """Order one query's candidates by expected grade (ties keep request order)."""
        products = [c.model_dump(exclude_none=True) for c in req.candidates]  # type: ignore[attr-defined]
        probs = await score([req.query] * len(products), products)  # type: ignore[attr-defined]
        be: Backend = state["backend"]
        rows = _results(probs, state["tiering"], be.grade_names, state.get("decisions"))
        for i, (row, prod) in enumerate(zip(rows, products, strict=True)):
            row.update(index=i, product_id=prod.get("product_id"), score=row["expected_grade"])
        order = sorted(range(len(rows)), key=lambda i: (-rows[i]["score"], i))
        if req.top_k is not None:  # type: ignore[attr-defined]
            order = order[: req.top_k]  # type: ignore[attr-defined]
        return {"backend": be.name, "query": req.query, "results": [rows[i] for i in order]}  # type: ignore

    @app.get("/healthz", response_model=Health, tags=["ops"])
    async def healthz() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Health, tags=["ops"], responses={503: {"model": Health}})
    async def readyz() -> Response:
        """Readiness: the model is loaded and accepting work (503 while starting or draining)."""
        be = state["backend"]
        if state["ready"] and state["batcher"] is not None and state["batcher"].running:
            return JSONResponse({"status": "ready", "backend": be.name})
        return JSONResponse({"status": "not ready", "detail": "starting or shutting down"}, status_code=503)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        tags=["ops"],
        dependencies=[Security(_api_key_doc)],
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            401: {
                "description": "Missing or invalid API key",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
            },
        },
    )
    async def metrics_endpoint() -> Response:
        """Prometheus text exposition."""
        if state["batcher"] is not None:
            metrics.queue.set(state["batcher"].pending_pairs)
        body, ctype = metrics.render()
        return Response(body, media_type=ctype)

    return app


def run_server(settings: ServeSettings) -> None:
    """Serve with uvicorn until SIGINT/SIGTERM; in-flight requests get ``graceful_timeout_s`` to finish."""
    import socket

    import uvicorn

    from ecomrel.errors import ConfigError

    with socket.socket() as probe:  # a taken port is a one-line error, not uvicorn's exit 1
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((settings.host, settings.port))
        except OSError as exc:
            raise ConfigError(
                f"--host {settings.host} --port {settings.port}: cannot bind ({exc.strerror})"
            ) from None
    # load the model before uvicorn starts: a missing folder, unknown backend or missing dependency
    # is a one-line error with exit 2 instead of a startup traceback inside the server's lifespan
    backend = load_backend(
        settings.backend,
        settings.model,
        threads=settings.threads,
        **settings.backend_options(),
    )
    app = create_app(settings, backend=backend)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        timeout_graceful_shutdown=int(settings.graceful_timeout_s),
        log_level="info",
        access_log=False,
    )


def _demo_candidates(n: int) -> tuple[str, list[dict[str, Any]]]:
    brands = ["Lodge", "Cuisinart", "T-fal", "Le Creuset", "Amazon Basics"]
    kinds = ["Cast Iron Skillet", "Nonstick Frying Pan", "Dutch Oven", "Skillet Lid", "Chef Knife"]
    cands = [
        {
            "product_id": f"demo-{i}",
            "title": f"{brands[i % 5]} {10 + i % 3} in {kinds[i % 5]}",
            "brand": brands[i % 5],
            "category": "Home > Kitchen > Cookware",
            "attributes": {"size": f"{10 + i % 3} in"},
            "price": 19.99 + i,
        }
        for i in range(n)
    ]
    return "12 in cast iron skillet", cands


def serve_check(
    model_dir: str | Path,
    backend: str = "onnx-int8",
    n_candidates: int = 50,
    repeats: int = 5,
    query: str | None = None,
    candidates: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Start the app in-process (TestClient), post /v1/rank ``repeats`` times; status, timing, top result."""
    from fastapi.testclient import TestClient

    if candidates is None:
        dq, candidates = _demo_candidates(n_candidates)
        query = query or dq
    t0 = time.perf_counter()
    app = create_app(ServeSettings(model=Path(model_dir), backend=backend))
    with TestClient(app) as client:
        startup_s = time.perf_counter() - t0
        ready = client.get("/readyz").status_code
        times, resp = [], None
        for _ in range(max(1, repeats)):
            t = time.perf_counter()
            resp = client.post("/v1/rank", json={"query": query, "candidates": candidates})
            times.append((time.perf_counter() - t) * 1000)
        body = resp.json()
        metrics_ok = client.get("/metrics").status_code == 200
    return {
        "status": resp.status_code,
        "readyz": ready,
        "backend": body.get("backend"),
        "n_candidates": len(candidates),
        "startup_s": round(startup_s, 3),
        "latency_ms_first": round(times[0], 2),
        "latency_ms_median": round(statistics.median(times), 2),
        "top": body.get("results", [None])[0],
        "metrics_ok": metrics_ok,
    }
