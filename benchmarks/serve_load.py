"""Load test of `nnlm serve`: requests/s and latency of /api/sample and /api/score.

    python benchmarks/serve_load.py [RUN] [--clients 16] [--seconds 20] [--n 10]

Starts `nnlm serve RUN --port 0` in a subprocess (without RUN: trains a quick run on the
bundled names into a temporary directory first), then for each endpoint runs CLIENTS threads,
each one keep-alive connection sending requests back to back for SECONDS, and prints a
Markdown table. Traffic goes to 127.0.0.1 only and stops by itself; the exit status is 1 if
any request failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

START_TIMEOUT = 180  # seconds for the server to load its run and print its URL


def start_server(run: str) -> tuple[subprocess.Popen, str, int]:
    proc = subprocess.Popen([sys.executable, "-m", "nnlm", "serve", run, "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    line = found[0] if found else ""
    if "http://" not in line:
        proc.kill()
        sys.exit(f"serve_load: the server did not start (printed {line!r})")
    address = line.split("http://", 1)[1].split("/", 1)[0]
    host, port = address.rsplit(":", 1)
    return proc, host, int(port)


def post(conn: http.client.HTTPConnection, path: str, body: dict) -> tuple[int, dict]:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def client(host: str, port: int, path: str, bodies: list[dict], deadline: float, out: dict) -> None:
    """Requests back to back on one keep-alive connection until the deadline."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    rng = random.Random(len(out["latencies"]))
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            status, _ = post(conn, path, rng.choice(bodies))
            ok = status == 200
        except (OSError, http.client.HTTPException, ValueError):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
        with out["lock"]:
            out["latencies"].append(time.perf_counter() - started)
            out["errors"] += not ok
    conn.close()


def load(host: str, port: int, path: str, bodies: list[dict], clients: int, seconds: float) -> dict:
    out = {"latencies": [], "errors": 0, "lock": threading.Lock()}
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(host, port, path, bodies, started + seconds, out))
               for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    lat = sorted(out["latencies"])

    def pct(q):
        return 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50": pct(0.50), "p99": pct(0.99),
            "errors": out["errors"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", nargs="?", help="run directory (default: train a quick run on the bundled names)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0, help="per endpoint")
    p.add_argument("--n", type=int, default=10, help="samples per /api/sample request")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            import nnlm

            print("training a quick run on the bundled names...", flush=True)
            run = str(Path(tmp) / "names")
            nnlm.train(None, run, preset="quick", progress=False)
        proc, host, port = start_server(run)
        try:
            return report(host, port, args)
        finally:
            proc.terminate()
            proc.wait(30)


def report(host: str, port: int, args) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/api/runs")
    name = json.loads(conn.getresponse().read())["runs"][0]["name"]
    status, warm = post(conn, "/api/sample", {"run": name, "n": 64, "seed": 0})
    conn.close()
    texts = [s["text"] for s in warm["samples"]]  # real items of the run's kind, to score
    samples = [{"run": name, "n": args.n, "temperature": 0.8, "seed": seed} for seed in range(1000)]
    scores = [{"run": name, "text": text} for text in texts]
    rows = [("sample", f"n={args.n}", load(host, port, "/api/sample", samples, args.clients, args.seconds)),
            ("score", "1 item", load(host, port, "/api/score", scores, args.clients, args.seconds))]
    print(f"\nnnlm serve {name}: {args.clients} keep-alive clients, {args.seconds:g} s per endpoint\n")
    print("| endpoint | request | requests | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for endpoint, what, r in rows:
        print(f"| {endpoint} | {what} | {r['requests']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} "
              f"| {r['errors']} |")
    return 1 if any(r["errors"] for _, _, r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
