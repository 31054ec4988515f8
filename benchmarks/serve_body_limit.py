"""What a 100 MB request body costs the relevance service: with the body limit vs without it.

For each configuration the script starts the service (``create_app`` + uvicorn, a constant-output
backend so no model is needed) in a subprocess on a free 127.0.0.1 port, waits for /readyz, reads
the server's resident memory (``VmRSS`` from /proc) after a warm-up request, posts one ``--mb`` MB
JSON body to /v1/rank twice -- once with a Content-Length, once chunked (no length, streamed in
1 MB chunks) -- and reads the server's peak resident memory (``VmHWM``) after each. The named
baseline, ``unlimited``, runs the same requests with ``max_body_bytes`` above the body size (what
the service did before the limit existed: read everything). Measured: status code, seconds per
request, and peak RSS growth of the server process in MB.

    python benchmarks/serve_body_limit.py --mb 100 --limit-mb 4
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time

SERVER = r"""
import sys, numpy as np, uvicorn
from ecomrel.serve.app import create_app
from ecomrel.serve.backends import Backend
from ecomrel.serve.settings import ServeSettings

class Const(Backend):
    name = "const"
    def predict_proba(self, q, p):
        return np.tile([0.1, 0.2, 0.3, 0.4], (len(q), 1))

port, limit = int(sys.argv[1]), int(sys.argv[2])
app = create_app(ServeSettings(port=port, max_body_bytes=limit), backend=Const())
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mem_mb(pid: int) -> dict[str, float]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) / 1024
    return out


def _body(mb: int) -> bytes:
    """A valid request followed by whitespace: only its size is wrong."""
    head = b'{"query": "skillet", "candidates": [{"title": "Lodge skillet"}]}'
    return head + b" " * (mb * 2**20 - len(head))


def run_config(name: str, limit: int, body: bytes) -> dict:
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(limit)])
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{name}: server did not start")
            time.sleep(0.1)
        # warm-up: one ordinary request and one small over-limit body, so that lazily imported
        # code paths (JSON encoding, the 413 handler) are not counted as the big body's cost
        httpx.post(url + "/v1/rank", json={"query": "q", "candidates": [{"title": "t"}]}, timeout=10)
        httpx.post(url + "/v1/rank", content=b" " * (limit + 1), timeout=30)
        before = _mem_mb(proc.pid)
        result: dict = {"max_body_bytes": limit, "rss_before_mb": round(before["VmRSS"], 1)}
        chunk = 2**20

        def chunks():
            for i in range(0, len(body), chunk):
                yield body[i : i + chunk]

        for mode, content in (("content_length", body), ("chunked", None)):
            t0 = time.perf_counter()
            try:
                r = httpx.post(
                    url + "/v1/rank",
                    content=content if content is not None else chunks(),
                    headers={"content-type": "application/json"},
                    timeout=120,
                )
                status = r.status_code
            except httpx.TransportError as exc:  # the server may close the connection after its 413
                status = f"closed: {type(exc).__name__}"
            peak = _mem_mb(proc.pid)["VmHWM"]
            result[mode] = {
                "status": status,
                "seconds": round(time.perf_counter() - t0, 3),
                "rss_peak_growth_mb": round(peak - before["VmRSS"], 1),  # cumulative over the modes
            }
        after = _mem_mb(proc.pid)
        result["rss_peak_mb"] = round(after["VmHWM"], 1)
        result["rss_growth_mb"] = round(after["VmHWM"] - before["VmRSS"], 1)
        ok = httpx.post(url + "/v1/rank", json={"query": "q", "candidates": [{"title": "t"}]}, timeout=10)
        result["still_serving"] = ok.status_code == 200
        return result
    finally:
        proc.terminate()
        proc.wait(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=100, help="Body size in MB.")
    ap.add_argument("--limit-mb", type=float, default=4.0, help="max_body_bytes of the limited server, MB.")
    args = ap.parse_args()
    body = _body(args.mb)
    limit = int(args.limit_mb * 2**20)
    out = {
        "body_mb": args.mb,
        "limited": run_config("limited", limit, body),
        "baseline_unlimited": run_config("unlimited", len(body) + 2**20, body),
    }
    out["limit_mb"] = args.limit_mb
    # a chunked body is read until it passes the limit: at most the limit plus one chunk is held
    out["growth_within_limit_plus_1mb"] = out["limited"]["rss_growth_mb"] <= args.limit_mb + 1
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
