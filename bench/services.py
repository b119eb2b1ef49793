"""Seed 002's in-bridge AI services (OCR, image classification, NLP) through the REST bridge, against the bare
libraries on the same inputs, measured in the same run (target: bridge / bare <= 1.2 at the median).

The four services, each a bare call and the route that serves it:
  - ``ocr``: ``embodied_ai.perception.ocr.read_text`` on a sign drawn with Pillow (two lines, 640x240 PNG) /
    ``POST /v1/ai/vision/analyze`` with ``analysis_type=text_extraction`` and that PNG;
  - ``classify``: ``embodied_ai.perception.classifier.shared_classifier().classify(bgr, top_k=5)`` on a real
    photo (scikit-image's ``data/chelsea.png``, 451x300, the classifier tests' cat) / ``POST
    /v1/ai/vision/classify`` with that PNG and ``top_k=5``;
  - ``nlp_analyze``: ``embodied_ai.nlp.analyze_text`` (every analysis, language detected) on a paragraph of
    about 150 words / ``POST /v1/ai/nlp/analyze`` with ``{"text": ...}``;
  - ``nlp_summarize``: ``summarize_extractive(text, 40, 10)`` / ``POST /v1/ai/nlp/summarize`` with the same
    paragraph, ``max_length`` 40, ``min_length`` 10 and ``method: extractive``.

What each side's time includes:
  - bare, in this process: for the images, decoding the very PNG bytes the bridge gets (Pillow open, its
    size, ``convert("RGB")``, ``np.asarray``, as the bridge's ``decode_image`` does) and the channel flip the
    classifier needs (it takes BGR), then the library call; for the texts, the library call on a ``str``.
  - bridge, from this process's httpx client (one keep-alive connection a side, TCP_NODELAY set as curl and
    browsers set it, so the client's own Nagle stall is not in it) to the parsed answer: building the request
    (a multipart form for the images, JSON for the texts), loopback TCP, uvicorn and the app's middleware
    (body size limit, timing, rate-limit headers), authorisation (anonymous on loopback) and the anonymous
    rate limiter (the default 6000/hour; a run sends far fewer), the form's or body's parsing and validation,
    the image's decoding in a worker thread, the same library call in a worker thread (``run_in_threadpool``),
    the answer's pydantic models and JSON, and ``response.json()`` here. The difference is the transport and
    the API layer, nothing else.

The bridge is the real app (``create_app``) over the in-memory graph ports of the route tests
(``tests.unit.bridge.fake_ports`` with a real job system, ``local_jobs``; these routes call no port), served
by uvicorn in a **subprocess** of this script (``--serve-bridge``) on two loopback sockets, so two bridge
sides are measured:
  - ``bridge``: a socket made by the bridge node's own ``embodied_ros.rest_bridge.bind``, i.e. served as the
    stack serves it. Its socket is created without ``proto=IPPROTO_TCP``, so asyncio does not set
    TCP_NODELAY on the connections; uvicorn writes a response's head and body separately and the body waits
    for the client's delayed ACK (about 40 ms on Linux) on every request.
  - ``bridge_nodelay``: the same app in the same process on a socket from the same ``bind`` with TCP_NODELAY
    set (accepted connections inherit it): the bridge without that stall.
A subprocess rather than a thread because the bridge is a process of its own in the stack: in a thread, this
client's HTTP work and the bare calls would share one interpreter lock with the server's event loop and
worker threads, and the ratio would measure that contention, not the bridge. No ROS graph is needed: these
routes run in the bridge process. Each process has its own ONNX Runtime sessions, with the same settings.

Each service is warmed up (``--warmup`` calls of each side: the engines load on first use, in each process),
then ``--repeats`` rounds (``--ocr-repeats`` for OCR, whose call takes seconds) of one timed call a side, the
order rotated each round (bare, bridge, bridge_nodelay; then bridge, bridge_nodelay, bare; ...), so a drift
of the machine's load falls on every side. Figures per side: median, p95, mean (ms); for each bridge side,
its ratio to bare for the medians (the headline, against the 1.2 target), for the p95s and the median of the
per-round ratios, and the median added time per round; whether every call of every side gave the same answer
(OCR: the lines' text; classification: the top-5 class ids; analysis: the language, the sentiment label, the
entities and the keywords; summary: its text). Load averages at the start, after each service and at the
end. Then ``GET /v1/health/live`` on each bridge side, ``--repeats`` times (``http_floor``): what any
request costs there with no work at all. Writes bench/results/services.json.

Run: .venv/bin/python bench/services.py [--repeats 30] [--ocr-repeats 10] [--warmup 2] [--quick]
     [--out bench/results/services.json]
``--quick`` runs 1 warm-up call and 3 rounds (OCR 2): a smoke run whose figures say little.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from embodied_ai.nlp import analyze_text, summarize_extractive
from embodied_ai.perception.classifier import shared_classifier
from embodied_ai.perception.ocr import read_text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))      # tests.unit: the served bridge app, the sample photos
sys.path.insert(0, str(REPO / "bench"))

from _results import git_state, load  # noqa: E402 - what every bench records, beside this file

from tests.unit.vision_samples import ensure_classifier_built, sample_photo_path  # noqa: E402

QUICK = {"repeats": 3, "ocr_repeats": 2, "warmup": 1}
# The app on a socket bound as the bridge node binds it (embodied_ros.rest_bridge.bind), and on the same with
# TCP_NODELAY: asyncio sets TCP_NODELAY only on sockets created with proto IPPROTO_TCP, which bind's are not.
BRIDGE_SIDES = ("bridge", "bridge_nodelay")
TARGET_RATIO = 1.2
SIGN_LINES = ("CHARGING STATION", "KEEP CLEAR")
PHOTO = ("skimage", "data/chelsea.png")
TOP_K = 5
SUMMARY_MAX_WORDS, SUMMARY_MIN_WORDS = 40, 10
PARAGRAPH = (
    "On Monday the robotics team in Munich tested the new warehouse robot for Siemens. The robot picked "
    "1,200 parcels in four hours, which is 30% faster than the old system, and it did not drop a single one. "
    "Maria Keller, who leads the project, said the results were excellent and the customers are delighted. "
    "The gripper still struggles with wet cardboard, though, and two motors overheated badly after lunch, "
    "which was frustrating for everyone. The team will replace the motors before the next trial on 12 March "
    "2027. Anna Schmidt from the safety office will review the emergency stop, because the robot once kept "
    "moving for half a second after the button was pressed. The budget for the second phase is 250,000 "
    "euros, and questions can be sent to robots@example.com. If the next trial goes well, the robot will "
    "work in three warehouses in Germany and Austria by the end of the year."
)
Answer = Any   # what both sides must agree on, as comparable plain data


@dataclass(frozen=True)
class Service:
    """One service: its bare call and its request to the bridge, each returning the comparable answer."""

    name: str
    route: str
    bare: Callable[[], Answer]
    bridge: Callable[[httpx.Client], Answer]


def sign_png() -> bytes:
    """A green sign with two white lines of text (Pillow's bundled font), as PNG bytes."""
    face = ImageFont.load_default(44)
    sign = Image.new("RGB", (640, 240), (20, 110, 50))
    pen = ImageDraw.Draw(sign)
    for row, line in enumerate(SIGN_LINES):
        pen.text(((640 - pen.textlength(line, font=face)) / 2, 50 + row * 80), line, font=face, fill=(255, 255, 255))
    encoded = io.BytesIO()
    sign.save(encoded, format="PNG")
    return encoded.getvalue()


def decoded_rgb(encoded: bytes) -> np.ndarray:
    """The PNG's pixels as HxWx3 uint8 RGB, decoded as the bridge decodes an upload."""
    with Image.open(io.BytesIO(encoded)) as picture:
        _ = picture.size, picture.format
        return np.asarray(picture.convert("RGB"))


def answer_data(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()["data"]


def services() -> list[Service]:
    sign = sign_png()
    photo = sample_photo_path(*PHOTO).read_bytes()

    def ocr_bare() -> Answer:
        return [line.text for line in read_text(decoded_rgb(sign))]

    def ocr_bridge(client: httpx.Client) -> Answer:
        data = answer_data(client.post("/v1/ai/vision/analyze", files={"image": ("sign.png", sign, "image/png")},
                                       data={"analysis_type": "text_extraction"}))
        return [region["text"] for region in data["analysis_results"]["text"]]

    def classify_bare() -> Answer:
        bgr = np.ascontiguousarray(decoded_rgb(photo)[:, :, ::-1])
        return [score.class_id for score in shared_classifier().classify(bgr, TOP_K)]

    def classify_bridge(client: httpx.Client) -> Answer:
        data = answer_data(client.post("/v1/ai/vision/classify", files={"image": ("photo.png", photo, "image/png")},
                                       data={"top_k": str(TOP_K)}))
        return [prediction["class_id"] for prediction in data["predictions"]]

    def analyze_bare() -> Answer:
        found = analyze_text(PARAGRAPH)
        return [found.detected_language, found.sentiment.label if found.sentiment else None,
                [entity.text for entity in found.entities or []], [keyword.text for keyword in found.keywords or []]]

    def analyze_bridge(client: httpx.Client) -> Answer:
        data = answer_data(client.post("/v1/ai/nlp/analyze", json={"text": PARAGRAPH}))
        return [data["detected_language"], (data["sentiment"] or {}).get("label"),
                [entity["text"] for entity in data["entities"] or []],
                [keyword["text"] for keyword in data["keywords"] or []]]

    def summarize_bare() -> Answer:
        return summarize_extractive(PARAGRAPH, SUMMARY_MAX_WORDS, SUMMARY_MIN_WORDS).summary

    def summarize_bridge(client: httpx.Client) -> Answer:
        return answer_data(client.post("/v1/ai/nlp/summarize", json={
            "text": PARAGRAPH, "max_length": SUMMARY_MAX_WORDS, "min_length": SUMMARY_MIN_WORDS,
            "method": "extractive"}))["summary"]

    return [Service("ocr", "POST /v1/ai/vision/analyze (text_extraction)", ocr_bare, ocr_bridge),
            Service("classify", "POST /v1/ai/vision/classify", classify_bare, classify_bridge),
            Service("nlp_analyze", "POST /v1/ai/nlp/analyze", analyze_bare, analyze_bridge),
            Service("nlp_summarize", "POST /v1/ai/nlp/summarize (extractive)", summarize_bare, summarize_bridge)]


@contextmanager
def bridge_process(timeout_s: float = 90.0) -> Iterator[dict[str, str]]:
    """This script's ``--serve-bridge`` in a subprocess; yields its base URL for each side (BRIDGE_SIDES). It
    serves until its stdin closes, which this does on leaving (or the OS does if this process dies); then
    SIGTERM, then SIGKILL, to that PID only."""
    child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve-bridge"], cwd=REPO,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert child.stdin is not None and child.stdout is not None
    try:
        ready, _, _ = select.select([child.stdout], [], [], timeout_s)
        said = child.stdout.readline().strip() if ready else ""
        urls = json.loads(said) if said.startswith("{") else {}
        if set(urls) != set(BRIDGE_SIDES):
            raise RuntimeError(f"the bridge subprocess did not start within {timeout_s:.0f} s (exit code "
                               f"{child.poll()}, said {said!r})")
        yield urls
    finally:
        child.stdin.close()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def serve_bridge() -> int:
    """The child's side: the real bridge app, served by uvicorn on two loopback sockets (BRIDGE_SIDES); prints
    their URLs as one JSON line, serves until its stdin ends."""
    import uvicorn

    from embodied_ai.bridge.app import create_app
    from embodied_ai.bridge.settings import LOOPBACK, BridgeSettings
    from embodied_ros.rest_bridge import bind
    from tests.unit.bridge.fake_ports import FakeGraph
    from tests.unit.bridge.local_jobs import LocalJobs

    as_deployed = bind(LOOPBACK, 0)
    with_nodelay = bind(LOOPBACK, 0)
    with_nodelay.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # accepted connections inherit it
    urls = {side: f"http://{LOOPBACK}:{sock.getsockname()[1]}"
            for side, sock in zip(BRIDGE_SIDES, (as_deployed, with_nodelay))}
    with tempfile.TemporaryDirectory(prefix="bench-services-") as state_dir:
        jobs = LocalJobs(Path(state_dir))
        try:
            app = create_app(FakeGraph(jobs, jobs.webhooks, jobs.operations).ports(),
                             BridgeSettings(state_dir=Path(state_dir)))
            server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))

            def announce_then_serve_until_stdin_ends() -> None:
                while not server.started and not server.should_exit:
                    time.sleep(0.02)
                print(json.dumps(urls), flush=True)
                sys.stdin.read()
                server.should_exit = True

            threading.Thread(target=announce_then_serve_until_stdin_ends, daemon=True).start()
            server.run(sockets=[as_deployed, with_nodelay])
        finally:
            jobs.close()
    return 0


def timed(call: Callable[[], Answer]) -> tuple[float, Answer]:
    started = time.perf_counter()
    answer = call()
    return (time.perf_counter() - started) * 1000, answer


def p95(values: list[float]) -> float:
    """The 95th percentile, linearly interpolated (at least two values)."""
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def side_figures(samples_ms: list[float]) -> dict[str, Any]:
    return {"n": len(samples_ms), "median_ms": round(statistics.median(samples_ms), 3),
            "p95_ms": round(p95(samples_ms), 3), "mean_ms": round(statistics.fmean(samples_ms), 3),
            "samples_ms": [round(x, 3) for x in samples_ms]}


def measure(service: Service, clients: dict[str, httpx.Client], warmup: int, repeats: int) -> dict[str, Any]:
    """Warm-up calls of each side, then ``repeats`` rounds of one timed call per side, the order rotated each
    round; each side's figures, the bridge sides' ratios to the bare one, whether every answer agreed."""
    sides: dict[str, Callable[[], Answer]] = {
        "bare": service.bare, **{side: partial(service.bridge, clients[side]) for side in BRIDGE_SIDES}}
    names = list(sides)
    first = {name: sides[name]() for name in names}
    for _ in range(warmup - 1):
        for name in names:
            sides[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    same = all(answer == first["bare"] for answer in first.values())
    orders = []
    for repeat in range(repeats):
        order = names[repeat % len(names):] + names[:repeat % len(names)]
        orders.append(order)
        for name in order:
            ms, answer = timed(sides[name])
            samples[name].append(ms)
            same = same and answer == first["bare"]
    found: dict[str, Any] = {"route": service.route, **{name: side_figures(samples[name]) for name in names}}
    bare = found["bare"]
    for side in BRIDGE_SIDES:
        figures = found[side]
        figures["ratio"] = round(figures["median_ms"] / bare["median_ms"], 4)
        figures["ratio_p95"] = round(figures["p95_ms"] / bare["p95_ms"], 4)
        figures["ratio_per_round_median"] = round(statistics.median(
            b / a for a, b in zip(samples["bare"], samples[side])), 4)
        figures["added_ms"] = round(statistics.median(b - a for a, b in zip(samples["bare"], samples[side])), 3)
        figures["within_target"] = figures["ratio"] <= TARGET_RATIO
    found.update(same_answer=same, answer=first["bare"], orders=orders)
    return found


def http_floor(clients: dict[str, httpx.Client], repeats: int) -> dict[str, Any]:
    """Each bridge side's ``GET /v1/health/live`` (no body, no work): what any request to it costs at least."""
    samples: dict[str, list[float]] = {side: [] for side in clients}
    for _ in range(repeats):
        for side, client in clients.items():
            samples[side].append(timed(partial(client.get, "/v1/health/live"))[0])
    return {side: side_figures(found) for side, found in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="measured rounds (one call a side) per service")
    parser.add_argument("--ocr-repeats", type=int, default=10, help="rounds for OCR (a call takes 1-3 s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls of each side per service first")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run ({', '.join(f'{k} {v}' for k, v in QUICK.items())}); overrides those")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "services.json")
    parser.add_argument("--serve-bridge", action="store_true", help=argparse.SUPPRESS)  # the subprocess's side
    args = parser.parse_args(argv)
    if args.serve_bridge:
        return serve_bridge()
    if args.quick:
        vars(args).update(QUICK)
    if min(args.repeats, args.ocr_repeats) < 2 or args.warmup < 1:
        parser.error("--repeats and --ocr-repeats must be at least 2, --warmup at least 1")

    ensure_classifier_built()
    load_start, started_at, started = load(), dt.datetime.now(dt.timezone.utc), time.monotonic()
    print(f"load average at start: {load_start}", flush=True)
    figures: dict[str, dict[str, Any]] = {}
    loads: dict[str, list[float]] = {}
    with bridge_process() as urls, ExitStack() as stack:
        clients = {side: stack.enter_context(httpx.Client(base_url=url, timeout=120, transport=httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]))) for side, url in urls.items()}
        for service in services():
            repeats = args.ocr_repeats if service.name == "ocr" else args.repeats
            figures[service.name] = measure(service, clients, args.warmup, repeats)
            loads[service.name] = load()
        floor = http_floor(clients, args.repeats)
    load_end = load()
    report = {
        "benchmark": "services",
        "utc": started_at.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "load_average_start": load_start, "load_average_end": load_end, "load_average_after_each_service": loads,
        "git": git_state(),
        "config": {"repeats": args.repeats, "ocr_repeats": args.ocr_repeats, "warmup": args.warmup, "quick": args.quick,
                   "target_ratio": TARGET_RATIO,
                   "bridge": "create_app over in-memory ports, uvicorn on two loopback sockets in a subprocess",
                   "bridge_sides": list(BRIDGE_SIDES), "client": "httpx, one keep-alive connection a side, TCP_NODELAY",
                   "sign_lines": list(SIGN_LINES), "photo": "/".join(PHOTO), "top_k": TOP_K,
                   "paragraph_words": len(PARAGRAPH.split()), "summary_words": [SUMMARY_MIN_WORDS, SUMMARY_MAX_WORDS]},
        "services": figures,
        "http_floor": floor,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\n{'ms':15}{'bare p50':>9}{'p95':>8}", *(f"{side + ' p50':>21}{'p95':>8}{'ratio p50':>10}{'p95':>6}"
                                                       f"{'rounds':>7}{'added':>8}" for side in BRIDGE_SIDES),
          f"  same answer   ({args.repeats} rounds, OCR {args.ocr_repeats}, after {args.warmup} warm-up calls)", sep="")
    for name, found in figures.items():
        print(f"{name:15}{found['bare']['median_ms']:>9.2f}{found['bare']['p95_ms']:>8.2f}",
              *(f"{found[side]['median_ms']:>21.2f}{found[side]['p95_ms']:>8.2f}{found[side]['ratio']:>10.3f}"
                f"{found[side]['ratio_p95']:>6.2f}{found[side]['ratio_per_round_median']:>7.2f}"
                f"{found[side]['added_ms']:>8.2f}" for side in BRIDGE_SIDES), f"  {found['same_answer']}", sep="")
    print("GET /v1/health/live p50 / p95:", "; ".join(
        f"{side} {found['median_ms']:.2f} / {found['p95_ms']:.2f}" for side, found in floor.items()))
    print(f"load average: {load_start} at the start, {load_end} at the end; {report['seconds']} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
