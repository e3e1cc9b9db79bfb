"""One level of the load: N candidates against fresh servers, as live WebRTC peers, then
(unless --no-upload) as clients posting JPEG frames, each phase measured over its window.

Timing: the generators start their candidates over a ramp (live: 0.2 s each, at most
20 s; upload: spread over one analysis period), then a warm-up, then the measured window;
every instant is on `time.monotonic()`, which all processes on the machine share.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import scenario
from cluster_mode import Services, node_host, service_figures, snapshot
from console import watch_console
from figures import (
    admission_timeline,
    live_figures,
    memory_figures,
    percentile,
    process_figures,
    timeline,
)
from launch import launch_generators, split, wait_generators
from nodes import (
    Attempt,
    Node,
    attempts,
    http_statuses,
    incidents,
    set_up_cluster,
    set_up_nodes,
    start_exam,
    start_servers,
    submit_everywhere,
)
from pyspy import Profiler
from recording_cost import growth, mb_per_candidate_hour
from report import keep_raw
from sampling import Sample, cpu_rate, sampler, window
from scoring import match_alerts
from server_process import Server, error_summary

GENERATOR_START_S = 4.0
"""Before the first live candidate: the generators import aiortc and load the media."""


@dataclass(frozen=True)
class Window:
    start: float
    stop: float


@dataclass(frozen=True)
class Mode:
    """How the level's servers run: `cluster` nodes of one cluster on `services` (0: one
    box, or `--servers` independent ones)."""

    cluster: int = 0
    services: Services | None = None
    database_url: str = ""

    @property
    def label(self) -> str:
        return f"cluster of {self.cluster}" if self.cluster else "single box"


@dataclass(frozen=True)
class Baseline:
    """The servers with every account, exam and attempt, before any stream."""

    idle_cores: float | None
    rss: int


@dataclass
class Drive:
    """What one phase's generators did, and the samples taken meanwhile."""

    samples: list[Sample]
    candidates: list[dict[str, Any]]
    generator_results: list[dict[str, Any]]
    launched: int


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {"PROCTOR_ANALYSIS_FPS": str(args.analysis_fps)}
    if args.detector_threads:
        env["PROCTOR_DETECTOR_THREADS"] = str(args.detector_threads)
    for item in args.server_env:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def ramp_seconds(args: argparse.Namespace, n: int) -> float:
    """How long the live candidates take to connect, one after the other."""
    return float(min(args.ramp_max, max(1.0, n * args.ramp_per_candidate)))


def per_candidate_pct(cores: float | None, n: int) -> float | None:
    return None if cores is None else 100 * cores / n


async def _drive(
    nodes: list[Node],
    everyone: list[Attempt],
    starts: list[float],
    spec: dict[str, Any],
    stop_at: float,
    args: argparse.Namespace,
    workdir: Path,
) -> Drive:
    """Runs the candidates in the generator processes until `stop_at`, sampling meanwhile
    (with the live counters when the phase is the WebRTC one)."""
    candidates = [
        {"key": node.key(sid), "session_id": sid, "token": token,
         "base_url": node.server.url, "start_at": start}
        for (node, sid, token), start in zip(everyone, starts, strict=True)
    ]  # fmt: skip
    n = len(everyone)
    parts = args.generators or (1 if n <= 10 else 2)
    groups = [
        {**spec, "stop_at": stop_at, "candidates": group} for group in split(candidates, parts)
    ]
    launched = launch_generators(args.tree_path, workdir, f"{spec['mode']}-n{n}", groups)
    samples: list[Sample] = []
    pids = [process.pid for process, _ in launched]
    await sampler(nodes, pids, stop_at, samples, spec["mode"] == "webrtc")
    results = await wait_generators(launched, stop_at + 60)
    flat = [c for g in results for c in g["candidates"]]
    return Drive(samples, flat, results, len(launched))


async def _services_at(mode: Mode, when: Window) -> dict[str, Any] | None:
    """What Redis and PostgreSQL did over the window (None on one box)."""
    if mode.services is None:
        return None
    services = mode.services
    await asyncio.sleep(max(0.0, when.start - time.monotonic()))
    before = await asyncio.to_thread(snapshot, services, mode.database_url)
    started = time.monotonic()
    await asyncio.sleep(max(0.0, when.stop - time.monotonic()))
    after = await asyncio.to_thread(snapshot, services, mode.database_url)
    return {"before": before, "after": after, "seconds": time.monotonic() - started}


def _placement(candidates: list[dict[str, Any]]) -> dict[str, int]:
    """How many candidates' media went to each address (the node that took them)."""
    placed: dict[str, int] = {}
    for candidate in candidates:
        host = candidate.get("media_host") or "not placed"
        placed[host] = placed.get(host, 0) + 1
    return dict(sorted(placed.items()))


async def _idle_baseline(nodes: list[Node]) -> Baseline:
    idle: list[Sample] = []
    await sampler(nodes, [], time.monotonic() + 3, idle, False)
    last = idle[-1].server
    return Baseline(cpu_rate(idle)["server_cores"], last.rss_bytes if last else 0)


def _client_figures(drive: Drive) -> dict[str, Any]:
    """The live phase as the candidates saw it."""
    cands = drive.candidates
    return {
        "generators": drive.launched,
        "generator_results": len(drive.generator_results),
        "offer_errors": [c["error"] for c in cands if c["error"]],
        "client_connected": sum(1 for c in cands if c["final_state"] == "connected"),
        # Admission control: candidates the server never took (503 until the end).
        "refused": sum(1 for c in cands if c["refusals"] and c["answered_at"] is None),
        "offers_refused": sum(c["refusals"] for c in cands),
        "video_late_packets": sum(c["video_late"] for c in cands),
        "generator_loop_lag_max_ms": max(
            (g["loop_lag_max_ms"] or 0 for g in drive.generator_results), default=None
        ),
    }


def _webrtc_figures(
    args: argparse.Namespace,
    drive: Drive,
    when: Window,
    keys: list[int],
    baseline: Baseline,
    stored: dict[int, list[dict[str, Any]]],
) -> dict[str, Any]:
    n = len(keys)
    measured = window(drive.samples, when.start, when.stop)
    rtts = [x.stats_rtt for x in measured if x.stats_rtt is not None]
    figures = {
        "ramp_s": ramp_seconds(args, n),
        "warmup_s": args.warmup,
        "measure_s": args.measure,
        **_client_figures(drive),
        **cpu_rate(measured),
        "server_idle_cores": baseline.idle_cores,
        "live": live_figures(measured, keys, args.analysis_fps),
        "stats_rtt_p50_s": percentile(rtts, 0.5),
        "stats_rtt_p95_s": percentile(rtts, 0.95),
        "timeline": timeline(drive.samples, when.start),
        "memory": memory_figures(measured, baseline.rss, n, when.start, when.stop),
        "processes": process_figures(measured, when.start),
        "admission": admission_timeline(drive.candidates, when.start, when.stop),
        "placement": _placement(drive.candidates),
        "alerts": match_alerts(drive.candidates, when.start, when.stop, scenario.ALERT_WINDOW,
                               stored),
    }  # fmt: skip
    figures["server_cpu_per_candidate_pct"] = per_candidate_pct(figures["server_cores"], n)
    return figures


async def _webrtc_phase(
    n: int,
    args: argparse.Namespace,
    media: Path,
    workdir: Path,
    nodes: list[Node],
    baseline: Baseline,
    mode: Mode,
) -> dict[str, Any]:
    """Every candidate as a live peer; with --profile, py-spy from a quarter in; with
    --console, a proctor's console open on the first server meanwhile."""
    ramp = ramp_seconds(args, n)
    t0 = time.monotonic() + GENERATOR_START_S
    when = Window(t0 + ramp + args.warmup, t0 + ramp + args.warmup + args.measure)
    profiler = Profiler(workdir, n, int(args.measure / 2)) if args.profile else None
    if profiler is not None:
        delay = when.start - time.monotonic() + args.measure / 4
        profiler.schedule(nodes[0].server.process.pid, delay)
    everyone = attempts(nodes)
    starts = [t0 + i * ramp / n for i in range(len(everyone))]
    spec = {
        "mode": "webrtc", "media": str(media), "audio": not args.no_audio,
        "retry_jitter": args.retry_jitter,
    }  # fmt: skip
    shared = asyncio.create_task(_services_at(mode, when))
    data_dirs = [node.server.data_dir for node in nodes]
    disk = asyncio.create_task(growth(data_dirs, when.start, when.stop))
    console = None
    if args.console:
        first = nodes[0]
        console = asyncio.create_task(
            watch_console(first.api.http, first.server.url, first.setup.proctor,
                          first.setup.exams[0], when.stop)
        )  # fmt: skip
    drive = await _drive(nodes, everyone, starts, spec, when.stop, args, workdir)
    recorded = await disk
    out: dict[str, Any] = {
        "recorded": {**recorded, "mb_per_candidate_hour": mb_per_candidate_hour(recorded, n)}
    }
    if console is not None:
        out["console"] = await console
    services = await shared
    if profiler is not None:
        summaries = profiler.finish(args.stamp)
        if profiler.role is not None:
            out["profile_pid_role"] = profiler.role
        out["profile"] = summaries
    stored = await incidents(nodes, 0, shared=mode.cluster > 0)
    if args.keep_raw:
        raw = {"measure_start": when.start, "stop_at": when.stop, "candidates": drive.candidates}
        out["raw"] = keep_raw(f"raw-n{n}-{args.stamp}.json", raw)
    keys = [node.key(sid) for node, sid, _ in everyone]
    out["webrtc"] = _webrtc_figures(args, drive, when, keys, baseline, stored)
    if services is not None:
        out["webrtc"]["services"] = service_figures(
            services["before"], services["after"], services["seconds"], n
        )
    out["http"] = await http_statuses(nodes[0].api.http, nodes)
    return out


def _upload_figures(n: int, args: argparse.Namespace, drive: Drive, when: Window) -> dict[str, Any]:
    cands = drive.candidates
    measured = window(drive.samples, when.start, when.stop)
    latencies = [x for c in cands for x in c["upload_latency_s"]]
    rates = [c["uploads"] / (when.stop - c["offer_at"]) for c in cands if c["offer_at"]]
    figures = {
        "seconds": args.upload_seconds,
        **cpu_rate(measured),
        "uploads": sum(c["uploads"] for c in cands),
        "upload_errors": sum(c["upload_errors"] for c in cands),
        "errors": sorted({c["error"] for c in cands if c["error"]})[:5],
        "rate_per_candidate_median": statistics.median(rates) if rates else None,
        "rate_per_candidate_min": min(rates) if rates else None,
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
        "alerts": match_alerts(cands, when.start, when.stop, scenario.ALERT_WINDOW),
    }
    figures["server_cpu_per_candidate_pct"] = per_candidate_pct(figures["server_cores"], n)
    return figures


async def _upload_phase(
    n: int, args: argparse.Namespace, media: Path, workdir: Path, nodes: list[Node]
) -> dict[str, Any]:
    """The same candidates on the second exam, posting the clip's JPEGs at the analysis
    rate, one request at a time."""
    rate = args.analysis_fps
    await start_exam(nodes, 1)
    everyone = attempts(nodes)
    await asyncio.sleep(2.0)
    t0 = time.monotonic() + 3.0
    start = t0 + 1.0 / rate + args.upload_warmup
    when = Window(start, start + args.upload_seconds)
    starts = [t0 + i / (n * rate) for i in range(len(everyone))]
    spec = {"mode": "upload", "media": str(media), "upload_rate": rate}
    drive = await _drive(nodes, everyone, starts, spec, when.stop, args, workdir)
    return _upload_figures(n, args, drive, when)


async def _phases(
    http: aiohttp.ClientSession,
    servers: list[Server],
    n: int,
    args: argparse.Namespace,
    media: Path,
    workdir: Path,
    mode: Mode,
) -> dict[str, Any]:
    began = time.monotonic()
    if mode.cluster:
        nodes = await set_up_cluster(http, servers, n)
    else:
        nodes = await set_up_nodes(http, servers, n)
    out: dict[str, Any] = {"setup_s": time.monotonic() - began}
    baseline = await _idle_baseline(nodes)
    out.update(await _webrtc_phase(n, args, media, workdir, nodes, baseline, mode))
    await submit_everywhere(nodes)
    if args.no_upload:
        return out
    upload = await _upload_phase(n, args, media, workdir, nodes)
    out["upload"] = upload
    webrtc_pct = out["webrtc"]["server_cpu_per_candidate_pct"]
    upload_pct = upload["server_cpu_per_candidate_pct"]
    out["cpu_ratio_webrtc_to_upload"] = (
        webrtc_pct / upload_pct if webrtc_pct and upload_pct else None
    )
    await submit_everywhere(nodes)
    return out


def _own_settings(args: argparse.Namespace, n: int, mode: Mode) -> list[dict[str, str]]:
    """Each server's own settings: a node's place in the cluster, or nothing."""
    if mode.services is not None:
        return [
            mode.services.node_env(mode.database_url, index, node_host(index))
            for index in range(mode.cluster)
        ]
    return [{} for _ in range(max(1, min(args.servers, n)))]


async def run_level(
    n: int, args: argparse.Namespace, media: Path, workdir: Path, mode: Mode
) -> dict[str, Any]:
    """Fresh servers for N candidates, both phases, then the servers' error lines."""
    env = server_env(args)
    own = _own_settings(args, n, mode)
    result: dict[str, Any] = {
        "n": n, "servers": len(own), "cluster": mode.cluster, "cpus": args.cpus, "server_env": env,
    }  # fmt: skip
    servers: list[Server] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            servers = await start_servers(http, args.tree_path, workdir, env, own, args.cpus)
            result.update(await _phases(http, servers, n, args, media, workdir, mode))
    finally:
        for server in servers:
            server.stop()
    result.update(error_summary(servers))
    return result
