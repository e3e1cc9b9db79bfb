"""CPU and memory of a process tree and of the machine, from /proc (Linux only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class TreeSample:
    cpu_s: float
    """User + system CPU seconds of the process and its live descendants (threads included),
    plus what its reaped children used."""
    rss_bytes: int
    """Resident memory of the process and its live descendants."""
    processes: int


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return kids
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except (FileNotFoundError, PermissionError):
            continue
        kids.extend(int(part) for part in text.split())
    return kids


def tree_sample(pid: int) -> TreeSample | None:
    """None when `pid` is gone."""
    cpu_ticks = 0
    rss_pages = 0
    count = 0
    stack = [pid]
    root = True
    while stack:
        current = stack.pop()
        fields = _stat_fields(current)
        if fields is None:
            if root:
                return None
            continue
        # Fields after the command, 0-based: 11 utime, 12 stime, 13 cutime, 14 cstime, 21 rss.
        cpu_ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        rss_pages += int(fields[21])
        count += 1
        stack.extend(_children(current))
        root = False
    return TreeSample(cpu_ticks / TICKS, rss_pages * PAGE, count)


ROLES = ("front", "live workers", "analysis", "other")


def _role(depth: int, pid: int) -> str:
    """What a process of the server's tree does, from where it sits: the server itself,
    its live workers (children), their analysis processes (grandchildren)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return "other"
    if b"resource_tracker" in cmdline:
        return "other"
    return ROLES[min(depth, 3)]


def _tree_roles(pid: int) -> list[tuple[int, str, list[str]]]:
    """(pid, role, /proc stat fields) of every live process of `pid`'s tree."""
    found = []
    stack = [(pid, 0)]
    while stack:
        current, depth = stack.pop()
        fields = _stat_fields(current)
        if fields is None:
            continue
        found.append((current, _role(depth, current), fields))
        stack.extend((child, depth + 1) for child in _children(current))
    return found


def cpu_by_role(pid: int) -> dict[str, float]:
    """CPU seconds of the live processes of `pid`'s tree, by `ROLES` (threads included; a
    one-process server has only "front" and "analysis" at depth 1 counts as a worker)."""
    seconds = dict.fromkeys(ROLES, 0.0)
    for _, role, fields in _tree_roles(pid):
        seconds[role] += (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


def pids_by_role(pid: int) -> dict[str, list[int]]:
    """The processes of `pid`'s tree by `ROLES`, e.g. the live workers to profile."""
    pids: dict[str, list[int]] = {role: [] for role in ROLES}
    for current, role, _ in _tree_roles(pid):
        pids[role].append(current)
    return pids


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One process of a server's tree: for the soak's flatness figures."""

    pid: int
    role: str
    rss_bytes: int
    threads: int
    fds: int


def process_samples(pid: int) -> list[ProcessSample]:
    """Every live process of `pid`'s tree with its memory, threads and open files."""
    found = []
    for current, role, fields in _tree_roles(pid):
        try:
            fds = len(os.listdir(f"/proc/{current}/fd"))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        # Fields after the command, 0-based: 17 num_threads, 21 rss.
        found.append(ProcessSample(current, role, int(fields[21]) * PAGE, int(fields[17]), fds))
    return found


def machine_cpu() -> tuple[float, float]:
    """(busy seconds, total seconds) over all cores since boot, from /proc/stat."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / TICKS, total / TICKS
