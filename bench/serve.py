"""The real server, as `python server.py` runs it, plus the admin-only live stats route.

    python bench/serve.py [server.py flags]      # settings from PROCTOR_* as usual

`api/stats.py` holds the handler; until api/routes.py declares it (see that module's
docstring for the one line), this wrapper adds the same operation to the router. Nothing
else differs from `server.main()`, unless a BENCH_* variable switches on one of the
experiments in bench/experiments.py (measuring a proposed change; off by default).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiohttp import web  # noqa: E402
from experiments import apply as apply_experiments  # noqa: E402

from api.operation import Operation, bind  # noqa: E402
from api.routes import OPERATIONS  # noqa: E402
from api.stats import LIVE_STATS_PATH, live_stats  # noqa: E402
from core.settings import SettingsError, load_settings  # noqa: E402
from live.protocol import LiveStats  # noqa: E402
from server import create_app  # noqa: E402

log = logging.getLogger("proctor")

STATS = Operation(
    "GET", LIVE_STATS_PATH, live_stats, "Counters of the live pipeline", ("admin",),
    response=LiveStats,
)  # fmt: skip


def main() -> int:
    try:
        settings, _ = load_settings(argv=sys.argv[1:])
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    apply_experiments()
    app = create_app(settings)
    if not any(op.path == LIVE_STATS_PATH for op in OPERATIONS):
        app.router.add_route(STATS.method, STATS.path, bind(STATS))
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=lambda _: log.info("listening on http://%s:%d", settings.host, settings.port),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
