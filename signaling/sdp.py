"""Checking a browser's SDP offer and capping the bitrate in our answer.

aiortc accepts almost anything as a remote description: "garbage" or an SDP with no media
parses as an empty session and produces an empty answer. A proctoring session needs video
and non-trickle ICE (the offer carries its candidates), so `check_offer` rejects offers that
cannot work with a clear `InvalidOffer` before aiortc sees them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from aiortc.sdp import SessionDescription

from signaling.errors import InvalidOffer
from signaling.ice import filter_sdp_candidates

__all__ = ["MAX_OFFER_CHARS", "check_offer", "with_audio_ptime", "with_bandwidth"]

MAX_OFFER_CHARS = 64 * 1024
"""A browser's offer is 3-8 KB; anything far larger is not one (and costs parsing time)."""

_SDP_LINE = re.compile(r"^[a-z]=.*$")


def check_offer(
    sdp: object,
    sdp_type: object,
    *,
    address_allowed: Callable[[str], bool] | None = None,
    require_video: bool = True,
) -> str:
    """Validate an offer and return its SDP text, with disallowed candidates removed.

    Raises `InvalidOffer` when: the type is not "offer"; the text is not SDP; there is no
    media section; a media section has no ICE credentials or DTLS fingerprint; there is no
    video (when `require_video`); or no ICE candidate is left after `address_allowed`.
    """
    if sdp_type != "offer":
        raise InvalidOffer(f"expected an SDP of type 'offer', got {sdp_type!r}")
    if not isinstance(sdp, str) or not sdp.strip():
        raise InvalidOffer("the offer has no SDP text")
    if len(sdp) > MAX_OFFER_CHARS:
        raise InvalidOffer(f"the offer is larger than {MAX_OFFER_CHARS} characters")
    lines = [line for line in sdp.splitlines() if line]
    if lines[0] != "v=0" or not all(_SDP_LINE.match(line) for line in lines):
        raise InvalidOffer("the offer is not an SDP session description")

    kept = None
    if address_allowed is not None:
        sdp, kept = filter_sdp_candidates(sdp, address_allowed)

    try:
        session = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises Assertion/Value/Key/IndexError alike
        raise InvalidOffer(f"the offer's SDP cannot be parsed ({type(exc).__name__})") from None

    media = [m for m in session.media if m.port != 0]  # port 0: a rejected section
    if not media:
        raise InvalidOffer("the offer has no media section")
    for section in media:
        if section.kind not in ("audio", "video", "application"):
            raise InvalidOffer(f"unsupported media kind {section.kind!r}")
        if section.ice is None or not section.ice.usernameFragment or not section.ice.password:
            raise InvalidOffer(f"the {section.kind} section has no ICE credentials")
        if section.dtls is None or not section.dtls.fingerprints:
            raise InvalidOffer(f"the {section.kind} section has no DTLS fingerprint")
    if require_video and not any(m.kind == "video" for m in media):
        raise InvalidOffer("the offer has no video section (is the camera shared?)")
    if not any(m.ice_candidates for m in media):
        if kept == 0:
            raise InvalidOffer("the offer has no ICE candidate this server may use")
        # We do not trickle: the page must wait for gathering to complete before offering.
        raise InvalidOffer("the offer has no ICE candidate (wait for ICE gathering to complete)")
    return sdp


def _sections(sdp: str) -> list[list[str]]:
    """The session part, then one list of lines per media section."""
    sections: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    return sections


def with_audio_ptime(sdp: str, ms: int) -> str:
    """Ask for `ms` of audio per packet: `a=ptime` in every audio section of `sdp`.

    In an answer it is the packet time the answerer wants to receive (RFC 4566); Chromium's
    Opus encoder follows it (measured by tests/test_web_e2e.py: 8.5 packets a second at
    120 ms instead of 50). aiortc's receive cost is per packet, so fewer packets cost less.
    """
    if ms <= 0:
        raise ValueError("ms must be positive")
    sections = _sections(sdp)
    out = sections[0]
    for section in sections[1:]:
        if section[0].startswith("m=audio "):
            section = [line for line in section if not line.startswith("a=ptime:")]
            section.append(f"a=ptime:{ms}")
        out += section
    return "\r\n".join(out) + "\r\n"


def with_bandwidth(sdp: str, kind: str, kbps: int) -> str:
    """Add `b=AS` (kbit/s) and `b=TIAS` (bit/s) to every `kind` media section of `sdp`.

    In an answer, a media-level `b=` line is the most the answerer wants to *receive*
    (RFC 3264, JSEP 5.8): browsers cap their encoder to it. aiortc ignores `b=` lines, both
    when writing its SDP and when reading one, so this edits the text after aiortc is done.
    Existing `b=` lines in those sections are replaced. The line goes after `c=` (RFC 4566
    order: m, i, c, b, k, a), which browsers require.
    """
    if kbps <= 0:
        raise ValueError("kbps must be positive")
    sections = _sections(sdp)
    out = sections[0]
    for section in sections[1:]:
        if section[0].startswith(f"m={kind} "):
            section = [line for line in section if not line.startswith("b=")]
            at = 1
            while at < len(section) and section[at][:2] in ("i=", "c="):
                at += 1
            section[at:at] = [f"b=AS:{kbps}", f"b=TIAS:{kbps * 1000}"]
        out += section
    return "\r\n".join(out) + "\r\n"
