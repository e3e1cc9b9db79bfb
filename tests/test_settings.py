"""Settings come from flags and PROCTOR_* variables; bad values are named."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.settings import SettingsError, ensure_secret_key, load_settings


def test_defaults_are_an_embedded_sqlite_server_on_port_5000(tmp_path: Path) -> None:
    settings, _ = load_settings({"PROCTOR_DATA_DIR": str(tmp_path)})
    assert settings.port == 5000 and settings.host == "0.0.0.0"
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/proctor.db"
    assert settings.ice_servers == () and settings.ice_hosts is None
    assert settings.analysis_fps == 3.0
    assert settings.still_analysis_fps == 1.0
    every_sample, _ = load_settings({"PROCTOR_STILL_ANALYSIS_FPS": "3"})
    assert every_sample.still_analysis_fps == 3.0
    assert settings.capture_size == (320, 240)
    vga, _ = load_settings({"PROCTOR_CAPTURE_SIZE": "640X480"})
    assert vga.capture_size == (640, 480)
    assert settings.identity_interval_seconds == 30.0
    cores = os.cpu_count() or 1
    assert settings.analysis_processes == min(8, cores)
    assert settings.max_live_sessions == 25 * cores
    unlimited, _ = load_settings({"PROCTOR_MAX_LIVE_SESSIONS": "0"})
    assert unlimited.max_live_sessions == 0
    assert settings.live_workers == (0 if cores < 2 else min(8, cores))
    one_loop, _ = load_settings({"PROCTOR_LIVE_WORKERS": "0"})
    assert one_loop.live_workers == 0


def test_flags_win_over_environment() -> None:
    settings, _ = load_settings({"PROCTOR_PORT": "7000"}, ["--port", "7001", "--host", "127.0.0.1"])
    assert (settings.port, settings.host) == (7001, "127.0.0.1")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PROCTOR_PORT": "70000"}, "PROCTOR_PORT='70000' must be at least 0 and at most 65535"),
        ({"PROCTOR_LOG_LEVEL": "LOUD"}, "PROCTOR_LOG_LEVEL='LOUD'"),
        ({"PROCTOR_SECRET_KEY": "short"}, "PROCTOR_SECRET_KEY must be at least 32 characters"),
        ({"PROCTOR_DATABASE_URL": "proctor.db"}, "PROCTOR_DATABASE_URL='proctor.db'"),
        ({"PROCTOR_ICE_SERVERS": "stun.example.org:3478"}, "PROCTOR_ICE_SERVERS"),
        ({"PROCTOR_ANALYSIS_FPS": "0"}, "PROCTOR_ANALYSIS_FPS='0' must be at least 0.1"),
        ({"PROCTOR_STILL_ANALYSIS_FPS": "0"}, "PROCTOR_STILL_ANALYSIS_FPS='0' must be at least"),
        ({"PROCTOR_ADMIN_USERNAME": "root"}, "go together"),
        ({"PROCTOR_IDENTITY_INTERVAL_SECONDS": "0.1"}, "PROCTOR_IDENTITY_INTERVAL_SECONDS"),
        ({"PROCTOR_MAX_LIVE_SESSIONS": "-1"}, "PROCTOR_MAX_LIVE_SESSIONS='-1' must be at least 0"),
        ({"PROCTOR_MAX_LOOP_LAG_SECONDS": "0"}, "PROCTOR_MAX_LOOP_LAG_SECONDS"),
        ({"PROCTOR_ANALYSIS_PROCESSES": "x"}, "PROCTOR_ANALYSIS_PROCESSES"),
        ({"PROCTOR_LIVE_WORKERS": "-1"}, "PROCTOR_LIVE_WORKERS='-1' must be at least 0"),
        ({"PROCTOR_CAPTURE_SIZE": "640"}, "PROCTOR_CAPTURE_SIZE='640' is not WIDTHxHEIGHT"),
        ({"PROCTOR_CAPTURE_SIZE": "4000x3000"}, "must be between 160x120 and 1920x1080"),
        ({"PROCTOR_TRUSTED_PROXIES": "nginx.local"}, "'nginx.local' is not an address"),
        ({"PROCTOR_SELF_REGISTRATION": "maybe"}, "PROCTOR_SELF_REGISTRATION='maybe'"),
        ({"PROCTOR_TLS_CERT": "/nonexistent.pem"}, "PROCTOR_TLS_CERT and PROCTOR_TLS_KEY go"),
        (
            {"PROCTOR_TLS_CERT": "/nonexistent.pem", "PROCTOR_TLS_KEY": "/nonexistent.key"},
            "PROCTOR_TLS_CERT='/nonexistent.pem' is not a readable file",
        ),
        ({"PROCTOR_ICE_SERVERS": "turn:127.0.0.1:3478"}, "PROCTOR_TURN_SECRET is not set"),
        ({"PROCTOR_ICE_TRANSPORT_POLICY": "none"}, "is not all or relay"),
        ({"PROCTOR_MEDIA_PORTS": "40000"}, "is not FIRST-LAST"),
        ({"PROCTOR_MEDIA_PORTS": "500-600"}, "must lie within 1024-65535"),
        ({"PROCTOR_TOKEN_TTL_SECONDS": "5"}, "PROCTOR_TOKEN_TTL_SECONDS='5' must be at least 10"),
    ],
)
def test_bad_values_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_settings(environ)


def test_ice_settings_parse() -> None:
    settings, _ = load_settings(
        {
            "PROCTOR_ICE_SERVERS": "stun:127.0.0.1:3478, turn:127.0.0.1:3479",
            "PROCTOR_ICE_HOSTS": "127.0.0.1",
            "PROCTOR_TURN_SECRET": "shared-with-coturn",
            "PROCTOR_ICE_TRANSPORT_POLICY": "relay",
            "PROCTOR_MEDIA_PORTS": "40000-40099",
        }
    )
    assert settings.ice_servers == ("stun:127.0.0.1:3478", "turn:127.0.0.1:3479")
    assert settings.ice_hosts == ("127.0.0.1",)
    assert settings.turn_secret == "shared-with-coturn"
    assert settings.ice_transport_policy == "relay"
    assert settings.media_ports == (40000, 40099)


def test_edge_settings_parse(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("x")
    settings, _ = load_settings(
        {
            "PROCTOR_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8, ::1",
            "PROCTOR_SELF_REGISTRATION": "false",
            "PROCTOR_TLS_KEY": str(key),
        },
        ["--tls-cert", str(cert)],
    )
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert settings.self_registration is False
    assert (settings.tls_cert, settings.tls_key) == (cert, key)
    defaults, _ = load_settings({})
    assert defaults.self_registration is True and defaults.trusted_proxies == ()
    assert defaults.tls_cert is None and defaults.media_ports is None


def test_secret_key_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings, _ = load_settings({"PROCTOR_DATA_DIR": str(tmp_path)})
    first = ensure_secret_key(settings)
    second = ensure_secret_key(settings)
    assert len(first.secret_key) >= 32 and first.secret_key == second.secret_key
    mode = (tmp_path / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
