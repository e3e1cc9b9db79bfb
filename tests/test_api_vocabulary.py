"""The alert kinds and risk bands have one source, the server: the pages load them."""

from __future__ import annotations

import re

from alerts.risk import risk_band
from api.pages import WEB_DIR
from core.kinds import AlertKind
from tests.conftest import Api


async def test_every_kind_is_named_coloured_and_weighed_for_the_pages(api: Api) -> None:
    vocabulary = await api.ok("GET", "/api/vocabulary")  # before signing in: the login page
    kinds = {entry["kind"]: entry for entry in vocabulary["kinds"]}
    assert set(kinds) == set(AlertKind)
    for entry in kinds.values():
        assert entry["label"] and entry["notice"].endswith(".")
        assert re.fullmatch(r"#[0-9a-f]{6}", entry["color"])
    assert kinds["face_mismatch"]["risk_weight"] == 1.5
    assert kinds["copy_paste"]["reported"] == "one_shot"
    bands = [(band["name"], band["from_score"]) for band in vocabulary["risk_bands"]]
    assert bands == [("high", 50.0), ("mid", 20.0), ("low", 0.0)]
    assert [risk_band(score) for score in (0, 19.9, 20, 49.9, 50, 100)] == [
        "low", "low", "mid", "mid", "high", "high",
    ]  # fmt: skip


def test_no_page_script_spells_out_an_alert_kind() -> None:
    for script in (WEB_DIR / "js").rglob("*.js"):
        text = script.read_text()
        named = [kind for kind in AlertKind if f'"{kind}"' in text or f"{kind}:" in text]
        assert not named, f"{script.relative_to(WEB_DIR)} repeats {named}: use vocabulary.js"
