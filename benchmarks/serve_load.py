"""Bounded load test of the relevance service on loopback: POST /v1/rank with 50 candidates.

For each backend (default: ``auto``, the variant ``ecomrel serve`` picks from the export's measured
``variants.json``, against the named baseline ``onnx-int8``, today's default export) the script starts
``ecomrel serve`` in a subprocess on a free 127.0.0.1 port, waits for /readyz, runs N concurrent
clients for T seconds (each sends its next request when the last one returns), stops the server
with SIGTERM (graceful) and reports requests/s, pairs/s, p50/p95/p99 latency and the error count.
It always stops by itself: the load phase is bounded by ``--seconds`` and every wait has a timeout.

    python benchmarks/serve_load.py --clients 8 --seconds 20 --threads 1
    /work/tools/heavy .venv/bin/python benchmarks/serve_load.py \
        --model runs/h3/student_speed/export --backends auto,onnx-int8 --clients 4 --seconds 20

``--model`` is an export folder of ``ecomrel export variants`` (``benchmarks/student_speed.py --work
DIR`` leaves one in ``DIR/export``); without it, a fresh MiniLM head is exported with ``export_onnx``
(no variants.json: ``auto`` then serves onnx-int8 and says so). The JSON keeps the server's
``auto:`` log lines (what it chose and why).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _payload(n: int) -> dict:
    brands = ["Lodge", "Cuisinart", "T-fal", "Le Creuset", "Amazon Basics", "OXO", "Tramontina"]
    kinds = ["Cast Iron Skillet", "Nonstick Frying Pan", "Dutch Oven", "Skillet Lid", "Chef Knife", "Wok"]
    return {
        "query": "12 in pre seasoned cast iron skillet",
        "candidates": [
            {
                "product_id": f"p{i}",
                "title": f"{brands[i % 7]} {10 + i % 3} in {kinds[i % 6]}, {['black', 'red', 'blue'][i % 3]}",
                "brand": brands[i % 7],
                "category": "Home > Kitchen > Cookware",
                "attributes": {"size": f"{10 + i % 3} in", "material": ["cast iron", "aluminum"][i % 2]},
                "price": 19.99 + i,
            }
            for i in range(n)
        ],
    }


async def _load(url: str, clients: int, seconds: float, payload: dict, timeout: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                r = await client.post("/v1/rank", json=payload)
                if r.status_code == 200:
                    latencies.append(time.perf_counter() - t)
                else:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    n = len(latencies)
    return {
        "requests": n,
        "wall_s": round(wall, 2),
        "requests_per_s": round(n / wall, 2),
        "pairs_per_s": round(n * len(payload["candidates"]) / wall, 1),
        "latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 1) if n else None,
            "p95": round(float(np.percentile(lat, 95)), 1) if n else None,
            "p99": round(float(np.percentile(lat, 99)), 1) if n else None,
            "max": round(float(lat.max()), 1) if n else None,
        },
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
    }


def _run_backend(model: Path, backend: str, args: argparse.Namespace, payload: dict) -> dict:
    import httpx

    port = _free_port()
    cmd = [
        sys.executable,
        "-c",
        "from ecomrel.cli import main; main()",
        "serve",
        "--model",
        str(model),
        "--backend",
        backend,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--threads",
        str(args.threads),
        "--max-batch",
        str(args.max_batch),
        "--max-wait-ms",
        str(args.max_wait_ms),
    ]
    env = {**os.environ, "ECOMREL_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t0 > args.startup_timeout:
                raise RuntimeError("server did not become ready")
            time.sleep(0.25)
        startup = time.perf_counter() - t0
        asyncio.run(_load(url, 1, 2.0, payload, args.request_timeout))  # warm-up, not reported
        result = asyncio.run(_load(url, args.clients, args.seconds, payload, args.request_timeout))
        metrics = httpx.get(url + "/metrics", timeout=5).text
        batches = [
            ln
            for ln in metrics.splitlines()
            if ln.startswith("ecomrel_batch_pairs_sum") or ln.startswith("ecomrel_batch_pairs_count")
        ]
        result.update(backend=backend, startup_s=round(startup, 1), batch_metrics=batches)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    result["exit_code"] = proc.returncode
    result["auto_log"] = [ln.split("auto:", 1)[1].strip() for ln in err.splitlines() if "auto:" in ln]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model",
        type=Path,
        default=None,
        help="Distill folder with model/ and onnx/ (default: MiniLM-L6 + fresh head, exported).",
    )
    ap.add_argument("--backends", default="auto,onnx-int8", help="Comma list; the last one is the baseline.")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--candidates", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--startup-timeout", type=float, default=180.0)
    ap.add_argument("--request-timeout", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    model = args.model
    if model is None:
        from ecomrel.export.onnx import export_onnx
        from ecomrel.student.model import make_student
        from ecomrel.student.recipe import StudentRecipe

        model = Path(tempfile.mkdtemp(prefix="serve_load_"))
        make_student(None, StudentRecipe(), device="cpu").save_pretrained(str(model / "model"))
        StudentRecipe().save(model / "model")
        export_onnx(model / "model", model / "onnx")
    from ecomrel.hardware import machine

    payload = _payload(args.candidates)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    rows = {}
    for b in backends:
        rows[b] = _run_backend(model, b, args, payload)
        print(json.dumps(rows[b]), flush=True)
    base = backends[-1]
    report = {
        "benchmark": "serve_load",
        "endpoint": "POST /v1/rank",
        "candidates": args.candidates,
        "clients": args.clients,
        "seconds": args.seconds,
        "server_threads": args.threads,
        "micro_batch": {"max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms},
        "cpu_count": os.cpu_count(),
        "baseline": base,
        "machine": machine(),
        "results": rows,
        "p99_ms": {b: rows[b]["latency_ms"]["p99"] for b in backends},
        "errors": {b: rows[b]["errors"] for b in backends},
        "requests_per_s_vs_baseline": {
            b: round(rows[b]["requests_per_s"] / rows[base]["requests_per_s"], 2)
            for b in backends
            if rows[base]["requests_per_s"]
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
