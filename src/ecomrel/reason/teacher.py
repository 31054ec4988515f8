"""Teachers write the expert-explaining (EE) chains: the built-in analyst, or an LLM behind any
OpenAI-compatible chat-completions endpoint (LREF used GPT, TaoSR1 DeepSeek-R1).

The API teacher is built for long offline runs: timeouts, retries with exponential backoff on
429/5xx/timeouts (honouring ``Retry-After``; done by ``tenacity``), a client-side rate limit, and an
on-disk cache of responses (one JSON file per request, keyed by the SHA-256 of the request without
the key), so an interrupted build resumes without paying twice.

It fails early rather than late: without an API key (``api_key_env`` unset or empty) it refuses to
start unless the base URL is a loopback address (a local server such as vLLM needs none), and after
``MAX_CONNECTION_FAILURES`` connection failures in a row (nothing listening, DNS failure) every
further call fails at once with :class:`TeacherUnavailable` instead of retrying pair after pair.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ecomrel.errors import ConfigError, MissingDependencyError, UserError
from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.reason.analyst import Analysis
from ecomrel.reason.chains_config import TeacherConfig
from ecomrel.reason.rules import RuleOutcome

log = logging.getLogger(__name__)


class TeacherError(UserError):
    """The teacher could not answer (endpoint down, retries exhausted, malformed response)."""


class TeacherUnavailable(TeacherError):
    """The endpoint cannot be reached at all (several connection failures in a row)."""


class _Retryable(Exception):
    """One failed attempt worth retrying; ``delay`` is the server's Retry-After, if any."""

    def __init__(self, why: str, delay: float | None = None, connection: bool = False) -> None:
        super().__init__(why)
        self.delay = delay
        self.connection = connection


MAX_CONNECTION_FAILURES = 3
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


@dataclass
class TeacherRequest:
    """Everything a teacher may use for one pair: LREF's (q, i, gold label) plus the analyst's view."""

    query: str
    product: dict[str, Any]
    gold_grade: int
    analysis: Analysis
    outcome: RuleOutcome
    scale: GradeScale = DEFAULT_SCALE


@dataclass
class TeacherReply:
    reasoning: str
    implied_grade: int | None  # the grade the reasoning concludes; None if it names none
    source: str  # "builtin" | "api" | "cache"


class Teacher(Protocol):
    name: str

    def explain(self, request: TeacherRequest) -> TeacherReply: ...


class BuiltinTeacher:
    """The attribute analyst as teacher: a 5-step explanation whose verdict is the rules' grade."""

    name = "builtin"

    def explain(self, request: TeacherRequest) -> TeacherReply:
        from ecomrel.reason.chain_text import ee_reasoning

        grade = request.outcome.grade
        return TeacherReply(ee_reasoning(request.analysis, grade, request.scale), grade, "builtin")


SYSTEM_PROMPT = (
    "You are an expert in e-commerce search relevance. Explain, as a relevance expert would, why a "
    "product deserves the given relevance grade for a search query. Reason in five short steps: "
    "1. Query understanding  2. Item understanding  3. Category match  4. Attribute match "
    "(brand, attributes, negations, price)  5. Verdict. Keep it under 120 words. "
    "End with a last line of the form 'Verdict: <grade name>'."
)


def build_messages(request: TeacherRequest, include_analysis: bool = True) -> list[dict[str, str]]:
    """The chat messages sent for one pair (q, i, gold grade, optionally the analyst's findings)."""
    scale = request.scale
    grades = "\n".join(
        f"- {scale.name(g)} ({g}): {scale.descriptions[g] if g < len(scale.descriptions) else ''}"
        for g in reversed(scale.grades)
    )
    p = request.product
    fields = []
    for key in ("title", "brand", "category", "attributes", "price", "description"):
        v = p.get(key)
        if v is None or (isinstance(v, float) and v != v) or v == "" or v == {}:
            continue
        if isinstance(v, dict):
            v = "; ".join(f"{k}: {x}" for k, x in v.items())
        text = str(v)
        fields.append(f"{key.title()}: {text[:400]}")
    user = [
        f"Query: {request.query}",
        "Product:",
        *fields,
        "",
        "Grades:",
        grades,
        "",
        f"The correct grade is: {scale.name(request.gold_grade)} ({request.gold_grade}).",
    ]
    if include_analysis:
        from ecomrel.reason.chain_text import findings_text

        user += ["", "Notes from an automatic analysis (may be incomplete):", findings_text(request.analysis)]
        if request.outcome.reasons:
            user.append("Rules that apply: " + "; ".join(request.outcome.reasons))
    user += ["", "Explain why this grade is right."]
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(user)}]


def parse_verdict(text: str, scale: GradeScale = DEFAULT_SCALE) -> int | None:
    """The grade a reasoning text concludes: its last 'Verdict: …' line (a name or a number)."""
    names = "|".join(re.escape(n) for n in scale.names)
    hits = re.findall(rf"verdict\s*[:\-]\s*\**\s*({names}|\d)\b", text, flags=re.IGNORECASE)
    if not hits:
        return None
    last = hits[-1]
    if last.isdigit():
        g = int(last)
        return g if 0 <= g <= scale.max_grade else None
    return scale.grade_of(last)


class _RateLimiter:
    """At most ``rate`` calls per second (a minimum spacing between request starts)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self._next = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if now < self._next:
            time.sleep(self._next - now)
            now = time.monotonic()
        self._next = now + self.interval


class OpenAITeacher:
    """EE chains from an OpenAI-compatible ``/chat/completions`` endpoint (httpx + tenacity)."""

    name = "openai"
    RETRY_STATUS = (408, 409, 425, 429, 500, 502, 503, 504)

    def __init__(self, config: TeacherConfig, cache_dir: str | Path | None = None, client: Any = None):
        try:
            import httpx
            import tenacity  # noqa: F401 - checked here, used per request
        except ImportError as exc:
            raise MissingDependencyError(
                f"--teacher openai needs {exc.name}: pip install 'ecomrel[train]'"
            ) from None
        key = os.environ.get(config.api_key_env, "")
        check_endpoint(config, key)  # before any file or connection: fail before the first pair
        self.config = config
        folder = cache_dir or config.cache_dir
        self.cache_dir = Path(folder) if folder else None
        if self.cache_dir:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._limiter = _RateLimiter(config.requests_per_second)
        self._client = client or httpx.Client(timeout=httpx.Timeout(config.timeout_s))
        self.stats = {"requests": 0, "cache_hits": 0, "retries": 0, "errors": 0}
        self._connection_failures = 0  # in a row, across requests
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"

    # --- the request ------------------------------------------------------------------
    def payload(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        c = self.config
        return {
            "model": c.model,
            "messages": messages,
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
        }

    def cache_key(self, payload: dict[str, Any]) -> str:
        """SHA-256 of the endpoint and the request body (the API key is never part of it)."""
        blob = json.dumps(
            {"base_url": self.config.base_url.rstrip("/"), "request": payload},
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def complete(self, messages: list[dict[str, str]]) -> tuple[str, bool]:
        """(answer text, came from cache) for one chat request."""
        payload = self.payload(messages)
        key = self.cache_key(payload)
        path = self.cache_dir / f"{key}.json" if self.cache_dir else None
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.stats["cache_hits"] += 1
                return _answer_text(data["response"]), True
            except (ValueError, KeyError, TeacherError):
                log.warning("ignoring unreadable cache entry %s", path)
        response = self._post(payload)
        text = _answer_text(response)
        if path is not None:
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(
                json.dumps({"request": payload, "response": response}, ensure_ascii=False, indent=1),
                encoding="utf-8",
            )
            tmp.replace(path)
        return text, False

    def _attempt(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One request: the JSON answer, ``_Retryable`` for a failure worth retrying, else TeacherError."""
        import httpx

        c = self.config
        if self._connection_failures >= MAX_CONNECTION_FAILURES:
            raise TeacherUnavailable(
                f"{url}: unreachable ({self._connection_failures} connection failures in a row); "
                "check --base-url and that the server is up"
            )
        self._limiter.wait()
        self.stats["requests"] += 1
        try:
            r = self._client.post(url, json=payload, headers=self._headers, timeout=c.timeout_s)
        except httpx.TimeoutException:
            self._connection_failures = 0  # something answered the connection
            raise _Retryable(f"timed out after {c.timeout_s:g}s") from None
        except httpx.TransportError as exc:
            self._connection_failures += 1
            raise _Retryable(f"connection error: {exc}", connection=True) from None
        self._connection_failures = 0
        if r.status_code == 200:
            try:
                return r.json()
            except ValueError:
                raise _Retryable("response is not JSON") from None
        if r.status_code in self.RETRY_STATUS:
            raise _Retryable(f"HTTP {r.status_code}", delay=_retry_after(r.headers.get("retry-after")))
        raise TeacherError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")

    def _wait(self, state: Any) -> float:
        """Retry-After when the server sent one, else exponential backoff; both capped."""
        c = self.config
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = getattr(exc, "delay", None)
        if delay is None:
            delay = c.backoff_s * (2 ** (state.attempt_number - 1))
        return min(c.max_backoff_s, delay)

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt

        c = self.config
        url = c.base_url.rstrip("/") + "/chat/completions"

        def count_retry(state: Any) -> None:
            self.stats["retries"] += 1

        retrying = Retrying(
            stop=stop_after_attempt(c.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=count_retry,
            reraise=False,
        )
        try:
            return retrying(self._attempt, url, payload)
        except RetryError as exc:
            self.stats["errors"] += 1
            last = exc.last_attempt.exception()
            raise TeacherError(f"{url}: gave up after {c.max_retries + 1} attempts ({last})") from None
        except TeacherError:
            self.stats["errors"] += 1
            raise

    # --- the teacher ------------------------------------------------------------------
    def explain(self, request: TeacherRequest) -> TeacherReply:
        messages = build_messages(request, self.config.include_analysis)
        text, cached = self.complete(messages)
        text = text.strip()
        if not text:
            raise TeacherError("the teacher returned an empty answer")
        return TeacherReply(text, parse_verdict(text, request.scale), "cache" if cached else "api")

    def close(self) -> None:
        self._client.close()


def _answer_text(response: dict[str, Any]) -> str:
    try:
        return str(response["choices"][0]["message"]["content"] or "")
    except (KeyError, IndexError, TypeError):
        raise TeacherError(f"malformed chat-completions response: {str(response)[:200]}") from None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def check_endpoint(config: TeacherConfig, key: str) -> None:
    """``ConfigError`` naming the option when the API teacher cannot work: no base URL, or no key
    for a non-local endpoint (a loopback server, e.g. a local vLLM, may need none)."""
    url = (config.base_url or "").strip()
    parts = urlsplit(url)
    if not url or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--base-url {url!r}: the OpenAI-compatible teacher needs an http(s) base URL such as "
            "http://localhost:8000/v1 (or env ECOMREL_TEACHER_BASE_URL)"
        )
    if not key and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"--teacher openai: environment variable {config.api_key_env} is not set or empty, "
            f"and {url} is not a local server; set it (or --api-key-env NAME) before building chains"
        )


def make_teacher(config: TeacherConfig | str | None = None, cache_dir: str | Path | None = None) -> Teacher:
    """A teacher from its config (or the names 'builtin' / 'openai' with default settings)."""
    if config is None or config == "builtin":
        return BuiltinTeacher()
    if isinstance(config, str):
        if config != "openai":
            raise ConfigError(f"--teacher {config!r}: unknown teacher; use builtin or openai")
        config = TeacherConfig(kind="openai")
    if config.kind == "builtin":
        return BuiltinTeacher()
    return OpenAITeacher(config, cache_dir=cache_dir)
