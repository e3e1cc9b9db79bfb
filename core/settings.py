"""One frozen settings object, read from flags and `PROCTOR_*` environment variables.

Validated once at start-up; every error names the variable and the bad value, so a
misconfigured server fails before it accepts a connection.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.datadir import make_private_dir


class SettingsError(ValueError):
    """A setting has a value the server cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 5000
    data_dir: Path = Path("data")
    database_url: str = ""
    """Empty means SQLite (aiosqlite) in `data_dir`."""
    secret_key: str = ""
    """Empty means generate one on first start and keep it in `data_dir`."""
    log_level: str = "INFO"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    """PEM certificate chain and private key: the server speaks https itself (browsers give a
    page the camera only in a secure context). Unset: plain http, e.g. behind a TLS proxy."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses/networks of the reverse proxies whose X-Forwarded-For / Forwarded headers
    are believed; from any other peer those headers are ignored."""
    token_ttl_seconds: int = 3600
    refresh_ttl_seconds: int = 12 * 3600
    """A refresh token's lifetime; each use rotates it, so a page that stays open stays
    signed in, and a sign-in left alone this long ends."""
    self_registration: bool = True
    registrations_per_address: int = 20
    """Registrations (each a 64 MiB argon2 hash) one client address may make per hour."""
    admin_username: str | None = None
    admin_password: str | None = None
    max_body_bytes: int = 8 * 1024 * 1024
    login_attempts: int = 5
    """Failed logins allowed per username from one client address within
    `login_window_seconds`; beyond them that address waits, nobody else does."""
    login_address_attempts: int = 20
    """Failed logins allowed per client address, whatever the usernames."""
    login_window_seconds: int = 300
    ice_servers: tuple[str, ...] = ()
    turn_secret: str = ""
    """coturn's `static-auth-secret`: TURN URLs in `ice_servers` without credentials get
    short-lived ones minted from it (the TURN REST API scheme)."""
    turn_ttl_seconds: int = 3600
    """Lifetime of a minted TURN credential. coturn checks it only when an allocation is
    made, so it bounds how long a leaked credential is useful, not how long a call lasts."""
    ice_transport_policy: str = "all"
    """"relay" makes the browsers use TURN only (their addresses stay hidden)."""
    media_ports: tuple[int, int] | None = None
    """Inclusive range of local UDP ports the server's peer connections bind; None: any."""
    ice_hosts: tuple[str, ...] | None = None
    """Addresses offered as ICE host candidates; None means every interface."""
    analysis_fps: float = 3.0
    """Frames sampled per second per candidate (down to 1 under load); a sample showing the
    picture last analysed repeats that analysis (`still_analysis_fps`). At 2 the alert
    delay holds two 0.5 s sampling steps and its p95 sits at +1.2-1.3 s beyond each rule's
    debounce at any load; at 3 it was +0.90 s with 25 candidates on 2 cores (BENCHMARKS.md)."""
    still_analysis_fps: float = 1.0
    """Analyses per second of a candidate whose picture does not change (media/still.py);
    between them the last analysis is repeated. At `analysis_fps` or above every sample is
    analysed. On the benchmark's clip analyses fell from 2.4 to 1.0 a second per candidate and
    the server's CPU by a quarter (BENCHMARKS.md)."""
    capture_size: tuple[int, int] = (320, 240)
    """Width and height asked of candidates' cameras during the exam (`CaptureProfile`)."""
    stream_lost_grace_seconds: float = 10.0
    screen_share_grace_seconds: float = 60.0
    """In an exam that records the screen, how long after connecting a candidate may stream
    without it (choosing it in the browser's picker) before `screen_share_stopped`."""
    detector_threads: int = field(default_factory=lambda: max(2, min(8, 2 * (os.cpu_count() or 1))))
    """Worker threads: they run the voice detector and wait on the analysis processes."""
    analysis_processes: int = field(default_factory=lambda: max(1, min(8, os.cpu_count() or 1)))
    """Child processes analysing frames (identity included), each with a GIL of its own;
    0 analyses in the worker threads."""
    identity_interval_seconds: float = 30.0
    """Most seconds between identity checks when no change of the face triggers one."""
    live_workers: int = field(
        default_factory=lambda: 0 if (os.cpu_count() or 1) < 2 else min(8, os.cpu_count() or 1)
    )
    """Processes that hold the live candidates (WebRTC, sampling, rules), each with its own
    event loop; this process keeps the REST API and the consoles. 0: all in this process.
    One event loop carries every RTP packet and runs late past ~40-50 candidates on any
    number of cores (BENCHMARKS.md)."""
    max_live_sessions: int = field(default_factory=lambda: 25 * (os.cpu_count() or 1))
    """New live candidates are refused (503, Retry-After) beyond this many; 0: no limit.
    Measured on 2 cores with a live worker per core (BENCHMARKS.md): 50 held, each analysed
    ~2.5 times a second, nothing missed; 100 overload the machine. With `live_workers=0`
    one event loop runs late past ~40."""
    max_analysis_load: float = 0.75
    max_cpu_load: float = 0.8
    """New live candidates wait while the server's processes use more than this share of the
    processors they may use (`live.admission.ProcessTreeCpu`)."""
    """New live candidates are refused while the analysers were busier than this share of
    their capacity over the last 5 s, counting each candidate admitted too recently to be
    measured as an average one (`live.admission`). The quarter left is for the candidates
    already watched: movement costs more analyses than a still picture."""
    analysis_delay_seconds: float = 0.0
    """Test only: every analysis takes this much longer, as on a slower machine."""
    max_loop_lag_seconds: float = 0.25
    """New live candidates are refused while the event loop has run later than this within
    the last 5 s (ICE consent checks fail beyond 0.5 s and drop every peer)."""

    record: bool = True
    """Record every attempt's camera, microphone and (when the exam asks) screen."""
    retention_days: int = 30
    """Days after an attempt ends before its recordings and evidence are purged, unless the
    exam says otherwise; a candidate's face descriptor goes once all their attempts have."""
    consent_text: str = (
        "This exam is proctored. Your camera, microphone and, if the exam requires it, your "
        "screen are recorded while you take it, and a description of your face is kept to "
        "check that the same person takes the whole exam. Staff of the institution review "
        "the recordings. They are deleted automatically after the retention period; you may "
        "ask the institution for a copy of everything held about you, or for its deletion."
    )
    """What candidates agree to before their reference photo and recording."""
    redis_url: str = ""
    """Set: one node of several, sharing the database and this Redis (`cluster/`)."""
    node_id: str = ""
    """This node's name among the others; empty: "local" alone, host:port in a cluster."""
    node_url: str = ""
    """How the other nodes reach this one (http://address:port); empty: from host and port."""

    @property
    def clustered(self) -> bool:
        return bool(self.redis_url)

    @property
    def resolved_node_id(self) -> str:
        if self.node_id:
            return self.node_id
        return f"{socket.gethostname()}:{self.port}" if self.clustered else "local"

    @property
    def resolved_node_url(self) -> str:
        return self.node_url or f"http://{self.host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'proctor.db').resolve()}"


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _int(name: str, raw: str, *, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}{upper}")
    return value


def _float(name: str, raw: str, *, minimum: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _ice_servers(name: str, raw: str) -> tuple[str, ...]:
    urls = _csv(raw)
    for url in urls:
        if not url.startswith(("stun:", "turn:", "turns:")):
            raise SettingsError(f"{name}: {url!r} is not a stun:, turn: or turns: URL")
    return urls


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="server.py", description="Proctoring server")
    parser.add_argument("--host", help="address to listen on (PROCTOR_HOST, default 0.0.0.0)")
    parser.add_argument("--port", help="port to listen on (PROCTOR_PORT, default 5000)")
    parser.add_argument("--data-dir", help="database, evidence and secret (PROCTOR_DATA_DIR)")
    parser.add_argument("--log-level", help="DEBUG, INFO, ... (PROCTOR_LOG_LEVEL)")
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve https (PROCTOR_TLS_CERT)")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert (PROCTOR_TLS_KEY)")
    sub = parser.add_subparsers(dest="command")
    admin = sub.add_parser("create-admin", help="create an admin account and exit")
    admin.add_argument("username")
    admin.add_argument(
        "--password-env",
        default="PROCTOR_NEW_ADMIN_PASSWORD",
        help="environment variable holding the password (not a flag: flags leak into ps)",
    )
    return parser


def load_settings(
    environ: Mapping[str, str] | None = None, argv: Sequence[str] | None = None
) -> tuple[Settings, argparse.Namespace]:
    """Settings from flags (first) and environment; raises SettingsError naming the culprit."""
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(list(argv) if argv is not None else [])

    def pick(flag: str | None, var: str) -> str | None:
        return flag if flag is not None else env.get(var)

    values: dict[str, object] = {}
    if (host := pick(args.host, "PROCTOR_HOST")) is not None:
        values["host"] = host
    if (port := pick(args.port, "PROCTOR_PORT")) is not None:
        values["port"] = _int("PROCTOR_PORT", port, minimum=0, maximum=65535)
    if (data_dir := pick(args.data_dir, "PROCTOR_DATA_DIR")) is not None:
        if not data_dir.strip():
            raise SettingsError("PROCTOR_DATA_DIR is empty")
        values["data_dir"] = Path(data_dir)
    if url := env.get("PROCTOR_DATABASE_URL"):
        if "://" not in url:
            raise SettingsError(f"PROCTOR_DATABASE_URL={url!r} is not a database URL")
        values["database_url"] = url
    if key := env.get("PROCTOR_SECRET_KEY"):
        if len(key) < 32:
            raise SettingsError("PROCTOR_SECRET_KEY must be at least 32 characters")
        values["secret_key"] = key
    if (level := pick(args.log_level, "PROCTOR_LOG_LEVEL")) is not None:
        if level.upper() not in _LOG_LEVELS:
            raise SettingsError(
                f"PROCTOR_LOG_LEVEL={level!r} is not one of {', '.join(_LOG_LEVELS)}"
            )
        values["log_level"] = level.upper()
    tls_cert, tls_key = (
        pick(args.tls_cert, "PROCTOR_TLS_CERT"),
        pick(args.tls_key, "PROCTOR_TLS_KEY"),
    )
    values.update(_tls(tls_cert, tls_key))
    if proxies := env.get("PROCTOR_TRUSTED_PROXIES"):
        values["trusted_proxies"] = _networks("PROCTOR_TRUSTED_PROXIES", proxies)
    if ttl := env.get("PROCTOR_TOKEN_TTL_SECONDS"):
        values["token_ttl_seconds"] = _int("PROCTOR_TOKEN_TTL_SECONDS", ttl, minimum=10)
    if ttl := env.get("PROCTOR_REFRESH_TTL_SECONDS"):
        values["refresh_ttl_seconds"] = _int("PROCTOR_REFRESH_TTL_SECONDS", ttl, minimum=60)
    if (flag := env.get("PROCTOR_SELF_REGISTRATION")) is not None:
        values["self_registration"] = _bool("PROCTOR_SELF_REGISTRATION", flag)
    if limit := env.get("PROCTOR_REGISTRATIONS_PER_ADDRESS"):
        values["registrations_per_address"] = _int(
            "PROCTOR_REGISTRATIONS_PER_ADDRESS", limit, minimum=1
        )
    if size := env.get("PROCTOR_MAX_BODY_BYTES"):
        values["max_body_bytes"] = _int("PROCTOR_MAX_BODY_BYTES", size, minimum=1024)
    if fps := env.get("PROCTOR_ANALYSIS_FPS"):
        values["analysis_fps"] = _float("PROCTOR_ANALYSIS_FPS", fps, minimum=0.1)
    if fps := env.get("PROCTOR_STILL_ANALYSIS_FPS"):
        values["still_analysis_fps"] = _float("PROCTOR_STILL_ANALYSIS_FPS", fps, minimum=0.1)
    if size := env.get("PROCTOR_CAPTURE_SIZE"):
        values["capture_size"] = _size("PROCTOR_CAPTURE_SIZE", size)
    if grace := env.get("PROCTOR_STREAM_LOST_GRACE_SECONDS"):
        values["stream_lost_grace_seconds"] = _float(
            "PROCTOR_STREAM_LOST_GRACE_SECONDS", grace, minimum=0.0
        )
    if grace := env.get("PROCTOR_SCREEN_SHARE_GRACE_SECONDS"):
        values["screen_share_grace_seconds"] = _float(
            "PROCTOR_SCREEN_SHARE_GRACE_SECONDS", grace, minimum=0.0
        )
    if threads := env.get("PROCTOR_DETECTOR_THREADS"):
        values["detector_threads"] = _int("PROCTOR_DETECTOR_THREADS", threads, minimum=1)
    if processes := env.get("PROCTOR_ANALYSIS_PROCESSES"):
        values["analysis_processes"] = _int("PROCTOR_ANALYSIS_PROCESSES", processes, minimum=0)
    if interval := env.get("PROCTOR_IDENTITY_INTERVAL_SECONDS"):
        values["identity_interval_seconds"] = _float(
            "PROCTOR_IDENTITY_INTERVAL_SECONDS", interval, minimum=1.0
        )
    if workers := env.get("PROCTOR_LIVE_WORKERS"):
        values["live_workers"] = _int("PROCTOR_LIVE_WORKERS", workers, minimum=0, maximum=64)
    if cap := env.get("PROCTOR_MAX_LIVE_SESSIONS"):
        values["max_live_sessions"] = _int("PROCTOR_MAX_LIVE_SESSIONS", cap, minimum=0)
    if load := env.get("PROCTOR_MAX_ANALYSIS_LOAD"):
        values["max_analysis_load"] = _float("PROCTOR_MAX_ANALYSIS_LOAD", load, minimum=0.05)
    if load := env.get("PROCTOR_MAX_CPU_LOAD"):
        values["max_cpu_load"] = _float("PROCTOR_MAX_CPU_LOAD", load, minimum=0.05)
    if delay := env.get("PROCTOR_ANALYSIS_DELAY_SECONDS"):
        values["analysis_delay_seconds"] = _float(
            "PROCTOR_ANALYSIS_DELAY_SECONDS", delay, minimum=0.0
        )
    if lag := env.get("PROCTOR_MAX_LOOP_LAG_SECONDS"):
        values["max_loop_lag_seconds"] = _float("PROCTOR_MAX_LOOP_LAG_SECONDS", lag, minimum=0.05)
    if (record := env.get("PROCTOR_RECORDING")) is not None:
        if record not in ("0", "1"):
            raise SettingsError(f"PROCTOR_RECORDING={record!r} must be 0 or 1")
        values["record"] = record == "1"
    if days := env.get("PROCTOR_RETENTION_DAYS"):
        values["retention_days"] = _int("PROCTOR_RETENTION_DAYS", days, minimum=1, maximum=3650)
    if consent := env.get("PROCTOR_CONSENT_TEXT"):
        values["consent_text"] = consent.strip()
    if servers := env.get("PROCTOR_ICE_SERVERS"):
        values["ice_servers"] = _ice_servers("PROCTOR_ICE_SERVERS", servers)
    if hosts := env.get("PROCTOR_ICE_HOSTS"):
        values["ice_hosts"] = _csv(hosts)
    if secret := env.get("PROCTOR_TURN_SECRET"):
        values["turn_secret"] = secret
    if ttl := env.get("PROCTOR_TURN_TTL_SECONDS"):
        values["turn_ttl_seconds"] = _int("PROCTOR_TURN_TTL_SECONDS", ttl, minimum=60)
    if policy := env.get("PROCTOR_ICE_TRANSPORT_POLICY"):
        if policy not in ("all", "relay"):
            raise SettingsError(f"PROCTOR_ICE_TRANSPORT_POLICY={policy!r} is not all or relay")
        values["ice_transport_policy"] = policy
    for url in values.get("ice_servers", ()):  # type: ignore[attr-defined]
        if str(url).startswith("turn") and "@" not in str(url) and "turn_secret" not in values:
            raise SettingsError(
                f"PROCTOR_ICE_SERVERS: {url!r} has no user:password@ and PROCTOR_TURN_SECRET "
                "is not set to mint credentials"
            )
    if ports := env.get("PROCTOR_MEDIA_PORTS"):
        values["media_ports"] = _port_range("PROCTOR_MEDIA_PORTS", ports)
    if redis := env.get("PROCTOR_REDIS_URL"):
        if not redis.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"PROCTOR_REDIS_URL={redis!r} is not a redis:// or unix:// URL")
        values["redis_url"] = redis
    if node := env.get("PROCTOR_NODE_ID"):
        values["node_id"] = node[:128]
    if node_url := env.get("PROCTOR_NODE_URL"):
        if not node_url.startswith(("http://", "https://")):
            raise SettingsError(f"PROCTOR_NODE_URL={node_url!r} is not an http(s):// URL")
        values["node_url"] = node_url.rstrip("/")
    admin_user, admin_pass = env.get("PROCTOR_ADMIN_USERNAME"), env.get("PROCTOR_ADMIN_PASSWORD")
    if bool(admin_user) != bool(admin_pass):
        raise SettingsError("PROCTOR_ADMIN_USERNAME and PROCTOR_ADMIN_PASSWORD go together")
    if admin_user and admin_pass:
        values["admin_username"], values["admin_password"] = admin_user, admin_pass
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.clustered:
        _check_cluster(settings)
    return settings, args


def _check_cluster(settings: Settings) -> None:
    """Several nodes share everything: state that would differ per node is refused here."""
    if not settings.secret_key:
        raise SettingsError(
            "PROCTOR_REDIS_URL (several nodes) needs PROCTOR_SECRET_KEY, the same on every "
            "node: a key generated per node would make each node refuse the others' tokens"
        )
    if not settings.database_url or settings.database_url.startswith("sqlite"):
        raise SettingsError(
            "PROCTOR_REDIS_URL (several nodes) needs PROCTOR_DATABASE_URL on a shared "
            "PostgreSQL (postgresql+asyncpg://...), not SQLite"
        )
    if not settings.node_url and settings.host in ("0.0.0.0", "::", ""):
        raise SettingsError(
            "PROCTOR_REDIS_URL (several nodes) needs PROCTOR_NODE_URL, the address the other "
            "nodes reach this one on, when PROCTOR_HOST listens on every address"
        )


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not true or false")


def _networks(name: str, raw: str) -> tuple[str, ...]:
    networks = _csv(raw)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(f"{name}: {network!r} is not an address or network") from None
    return networks


def _tls(cert: str | None, key: str | None) -> dict[str, Path]:
    if bool(cert) != bool(key):
        raise SettingsError("PROCTOR_TLS_CERT and PROCTOR_TLS_KEY go together")
    if not cert or not key:
        return {}
    for name, path in (("PROCTOR_TLS_CERT", cert), ("PROCTOR_TLS_KEY", key)):
        if not Path(path).is_file():
            raise SettingsError(f"{name}={path!r} is not a readable file")
    return {"tls_cert": Path(cert), "tls_key": Path(key)}


def _port_range(name: str, raw: str) -> tuple[int, int]:
    low, sep, high = raw.strip().partition("-")
    if not (sep and low.strip().isdigit() and high.strip().isdigit()):
        raise SettingsError(f"{name}={raw!r} is not FIRST-LAST, e.g. 40000-40999")
    first, last = int(low), int(high)
    if not 1024 <= first <= last <= 65535:
        raise SettingsError(f"{name}={raw!r} must lie within 1024-65535, first <= last")
    return first, last


def _size(name: str, value: str) -> tuple[int, int]:
    width, sep, height = value.strip().lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise SettingsError(f"{name}={value!r} is not WIDTHxHEIGHT, e.g. 320x240")
    w, h = int(width), int(height)
    if not (160 <= w <= 1920 and 120 <= h <= 1080):
        raise SettingsError(f"{name}={value!r} must be between 160x120 and 1920x1080")
    return w, h


def ensure_secret_key(settings: Settings) -> Settings:
    """Return settings with a secret key, generating and keeping one in the data dir if unset."""
    if settings.secret_key:
        return settings
    make_private_dir(settings.data_dir)
    path = settings.data_dir / "secret_key"
    if path.exists():
        key = path.read_text().strip()
    else:
        key = secrets.token_urlsafe(48)
        # Create with owner-only permissions from the start: no window where others can read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        logging.getLogger(__name__).info("generated a secret key in %s", path)
    from dataclasses import replace

    return replace(settings, secret_key=key)
