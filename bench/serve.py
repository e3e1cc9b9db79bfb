"""The real server, as `python server.py` runs it, with the diagnostics of
bench/experiments.py switched on when a BENCH_* variable asks for one (off by default).

    python bench/serve.py [server.py flags]      # settings from PROCTOR_* as usual

The diagnostics apply to this process only: the front, or the whole server with
PROCTOR_LIVE_WORKERS=0 (live workers are spawned afresh and do not run them).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from experiments import apply as apply_experiments  # noqa: E402

import server  # noqa: E402

if __name__ == "__main__":
    apply_experiments()
    sys.exit(server.main())
