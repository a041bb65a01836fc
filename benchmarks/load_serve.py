"""Load check of ``xrayfeat serve``: ``python benchmarks/load_serve.py [--model M.xrf]``.

Starts the real server (``python -m xrayfeat.cli serve --port 0``, a free port on
127.0.0.1; with no model it fits the demonstration model as a user's server would),
computes the expected answer of every film with the library in this process, then
sends ``--requests`` uploads (default 200) from ``--clients`` concurrent clients
(default 8), each a full page request (probabilities, lung outline and heatmap
PNGs). Prints the cold first request, p50 / p95 / max latency, throughput, and how
many answers were wrong, refused or dropped (connection errors, time-outs). Films:
the embedded sample's test split plus the full-resolution originals in
``../shared/data/chest_xray_fullres_sample`` when present. Traffic goes to
127.0.0.1 only and the run is bounded by ``--requests``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import xrayfeat
from xrayfeat.sample_data import sample_path
from xrayfeat.web import demo_model

FULLRES = Path(__file__).resolve().parents[2] / "shared" / "data" / "chest_xray_fullres_sample"


def _films() -> list[Path]:
    return sorted((sample_path() / "test").glob("*/*.jpeg")) + sorted(FULLRES.glob("*/*.jpeg"))


def _start_server(model: str | None) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "xrayfeat.cli", "serve", "--port", "0"] + ([model] if model else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port: list[int] = []
    ready = threading.Event()

    def read() -> None:  # keep draining stderr (request log) so the server never blocks on it
        for line in proc.stderr:
            if not port and "serving on http://" in line:
                port.append(int(line.split("http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]))
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(180):
        proc.kill()
        raise SystemExit("the server did not start within 180 s")
    return proc, port[0]


def _multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _upload(port: int, name: str, data: bytes) -> tuple[float, int, dict | None, str]:
    body, ctype = _multipart(name, data)
    t0 = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/api/predict", body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        payload = json.loads(resp.read())
        conn.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return time.perf_counter() - t0, 0, None, f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - t0, resp.status, payload, ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model file to serve (default: the demonstration model)")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()

    films = _films()
    blobs = [p.read_bytes() for p in films]
    model = xrayfeat.load(args.model) if args.model else demo_model()
    # One film at a time, as the server sees them: a batch's BLAS order changes the last digits.
    expected = np.array([xrayfeat.predict_proba(model, [str(p)])[0] for p in films])
    labels = [xrayfeat.predict(model, [str(p)])[0] for p in films]
    print(f"{len(films)} films ({sum(p.is_relative_to(FULLRES) for p in films)} full-resolution originals, "
          f"{sum(len(b) for b in blobs) / len(blobs) / 1e3:.0f} kB on average); "
          f"{args.requests} uploads from {args.clients} concurrent clients")

    proc, port = _start_server(args.model)
    try:
        cold = _upload(port, films[0].name, blobs[0])
        print(f"cold first request: {cold[0] * 1e3:.0f} ms (status {cold[1]})")
        order = [i % len(films) for i in range(args.requests)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            answers = list(pool.map(lambda i: (i, *_upload(port, films[i].name, blobs[i])), order))
        wall = time.perf_counter() - t0
        still_up = _upload(port, films[0].name, blobs[0])[1] == 200
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()

    lat = np.array([a[1] for a in answers]) * 1e3
    dropped = [a for a in answers if a[4]]
    refused = [a for a in answers if not a[4] and a[2] != 200]
    wrong = []
    for i, _, status, payload, _err in answers:
        if status != 200:
            continue
        r = payload["results"][0]
        got = np.array(list(r["probabilities"].values()))
        if not (np.allclose(got, expected[i], rtol=0, atol=1e-9) and r["label"] == labels[i]
                and r.get("heatmap_png") and r.get("film_png")):
            wrong.append(i)
    print(f"latency: p50 {np.percentile(lat, 50):.0f} ms, p95 {np.percentile(lat, 95):.0f} ms, "
          f"max {lat.max():.0f} ms; {args.requests / wall:.1f} uploads/s over {wall:.1f} s")
    print(f"answers: {args.requests - len(dropped) - len(refused) - len(wrong)} correct, {len(wrong)} wrong, "
          f"{len(refused)} refused, {len(dropped)} dropped; server still serving afterwards: {still_up}")
    for a in dropped[:3]:
        print(f"  dropped: {a[4]}")
    if wrong or refused or dropped or not still_up:
        sys.exit(1)


if __name__ == "__main__":
    main()
