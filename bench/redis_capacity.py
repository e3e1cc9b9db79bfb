"""How many console-stream appends one Redis takes on this machine: `redis-benchmark`
against a private redis-server on a Unix socket (tests/services.py), appending entries the
size the nodes append (`--bytes`, ~500: bench/load.py --cluster measures Redis's input per
XADD) to one exam's stream as `cluster/streams.py` does (XADD MAXLEN ~ 2000), pipelined as
the nodes batch them; with `--read N`, reads of N entries at a time from a stream of 2,000
such entries, as a node reads an exam's stream for its consoles (XREAD COUNT N). Prints
operations a second and Redis's CPU per operation (per entry read, with --read).

    python bench/redis_capacity.py                 # 200,000 appends, 4 clients, 16 a batch
    python bench/redis_capacity.py --read 100 --pipeline 1 --requests 20000
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import procstats  # noqa: E402

from tests.services import running_redis  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--pipeline", type=int, default=16)
    parser.add_argument("--bytes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--read", type=int, default=0, metavar="N", help="XREAD COUNT N")
    args = parser.parse_args()
    benchmark = shutil.which("redis-benchmark")
    assert benchmark, "redis-benchmark comes with redis-server (scripts/install --dev)"
    payload = "x" * args.bytes
    append = ["XADD", "proctor:exam:1", "MAXLEN", "~", "2000", "*", "m", payload]
    read = ["XREAD", "COUNT", str(args.read), "STREAMS", "proctor:exam:1", "0"]
    per = max(1, args.read)
    rates, costs = [], []
    with running_redis() as redis:
        assert redis.process is not None
        for _ in range(args.runs):
            if args.read:  # a stream of 2,000 entries to read from
                subprocess.run(
                    [benchmark, "-s", str(redis.socket), "-n", "2000", "-q", *append],
                    capture_output=True, check=True, timeout=300,
                )  # fmt: skip
            before = procstats.tree_sample(redis.process.pid)
            out = subprocess.run(
                [benchmark, "-s", str(redis.socket), "-n", str(args.requests),
                 "-c", str(args.clients), "-P", str(args.pipeline), "-q",
                 *(read if args.read else append)],
                capture_output=True, text=True, check=True, timeout=300,
            ).stdout  # fmt: skip
            after = procstats.tree_sample(redis.process.pid)
            assert before is not None and after is not None
            match = re.search(r"([\d.]+) requests per second", out.replace("\r", "\n"))
            assert match, out
            rates.append(float(match[1]) * per)
            costs.append(1e6 * (after.cpu_s - before.cpu_s) / (args.requests * per))
    rates.sort()
    costs.sort()
    what = f"XREAD COUNT {args.read}, entries" if args.read else "XADD"
    print(
        f"{what} of {args.bytes} bytes, {args.clients} clients, {args.pipeline} a batch, "
        f"median of {args.runs}: {rates[len(rates) // 2]:,.0f} a second "
        f"(range {rates[0]:,.0f}-{rates[-1]:,.0f}), "
        f"Redis CPU {costs[len(costs) // 2]:.1f} us each ({costs[0]:.1f}-{costs[-1]:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
