"""Micro-batching: concurrent requests share one model call.

A cross-encoder on CPU is fastest with a few dozen pairs per call, while most requests carry a
handful. Requests wait on an asyncio queue; one worker takes the first, keeps collecting until
the batch holds ``max_batch`` pairs or ``max_wait_ms`` has passed since it started, runs the
model once in a single worker thread (the event loop stays free) and hands every request its own
slice of the result. A request larger than ``max_batch`` runs alone (the backend chunks it).
``stop()`` refuses new work and finishes everything already queued: graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ScoreFn = Callable[[list[str], list[dict[str, Any]]], np.ndarray]


class QueueFull(RuntimeError):
    """More pairs are waiting than the service accepts; the client should retry later."""


class NotAccepting(RuntimeError):
    """The batcher is stopped or stopping."""


@dataclass
class _Job:
    queries: list[str]
    products: list[dict[str, Any]]
    future: asyncio.Future = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.queries)


_STOP = object()


class MicroBatcher:
    """Collect concurrent scoring requests into model calls of at most ``max_batch`` pairs."""

    def __init__(
        self,
        score: ScoreFn,
        max_batch: int = 64,
        max_wait_ms: float = 5.0,
        max_queue_pairs: int = 20_000,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.score = score
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue_pairs = max_queue_pairs
        self.on_batch = on_batch
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._pending_pairs = 0
        self._accepting = False

    @property
    def running(self) -> bool:
        return self._accepting and self._worker is not None and not self._worker.done()

    @property
    def pending_pairs(self) -> int:
        return self._pending_pairs

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecomrel-model")
        self._accepting = True
        self._worker = asyncio.create_task(self._run(), name="ecomrel-microbatcher")

    async def submit(self, queries: Sequence[str], products: Sequence[dict[str, Any]]) -> np.ndarray:
        """Score pairs; resolves when their batch has run."""
        if not self._accepting or self._queue is None:
            raise NotAccepting("the service is shutting down")
        if self._pending_pairs + len(queries) > self.max_queue_pairs:
            raise QueueFull(
                f"{self._pending_pairs} pairs already waiting (max_queue_pairs={self.max_queue_pairs})"
            )
        job = _Job(list(queries), list(products), asyncio.get_running_loop().create_future())
        self._pending_pairs += job.size
        await self._queue.put(job)
        return await job.future

    async def stop(self, timeout: float | None = 30.0) -> None:
        """Refuse new work, finish the queued jobs (up to ``timeout`` s), then stop the worker."""
        if self._queue is None or self._worker is None:
            return
        self._accepting = False
        await self._queue.put(_STOP)
        try:
            await asyncio.wait_for(asyncio.shield(self._worker), timeout)
        except TimeoutError:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        carry: Any = None
        stopping = False
        while True:
            first = carry if carry is not None else await self._queue.get()
            carry = None
            if first is _STOP:
                break
            batch = [first]
            n = first.size
            deadline = loop.time() + self.max_wait
            while n < self.max_batch:
                timeout = deadline - loop.time()
                try:
                    nxt = (
                        self._queue.get_nowait()
                        if timeout <= 0
                        else await asyncio.wait_for(self._queue.get(), timeout)
                    )
                except (TimeoutError, asyncio.QueueEmpty):
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                if n + nxt.size > self.max_batch:
                    carry = nxt  # starts the next batch: a batch never exceeds max_batch unless one job does
                    break
                batch.append(nxt)
                n += nxt.size
            await self._run_batch(batch, n)
            if stopping:
                if carry is not None:
                    await self._run_batch([carry], carry.size)
                break

    async def _run_batch(self, batch: list[_Job], n: int) -> None:
        loop = asyncio.get_running_loop()
        queries = [q for j in batch for q in j.queries]
        products = [p for j in batch for p in j.products]
        t0 = loop.time()
        try:
            probs = await loop.run_in_executor(self._executor, self.score, queries, products)
            error = None
        except Exception as exc:  # every waiting request gets the error, the worker lives on
            probs, error = None, exc
        self._pending_pairs -= n
        if self.on_batch is not None:
            self.on_batch(n, loop.time() - t0)
        offset = 0
        for job in batch:
            if not job.future.done():
                if error is not None:
                    job.future.set_exception(error)
                else:
                    job.future.set_result(probs[offset : offset + job.size])
            offset += job.size
