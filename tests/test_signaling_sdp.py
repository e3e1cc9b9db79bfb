"""Checking offers before aiortc sees them, and the bandwidth cap in answers."""

from __future__ import annotations

import pytest

from signaling.errors import InvalidOffer
from signaling.ice import is_loopback_address
from signaling.sdp import MAX_OFFER_CHARS, check_offer, with_audio_ptime, with_bandwidth

SESSION = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0 1"]
ICE = ["a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdefghijkl"]
DTLS = [
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
    "a=setup:actpass",
]
VIDEO = [
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "c=IN IP4 0.0.0.0",
    "a=mid:0",
    "a=sendonly",
    "a=rtcp-mux",
    "a=rtpmap:96 VP8/90000",
    "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
    "a=candidate:2 1 udp 2130706431 192.168.1.20 50001 typ host",
    "a=end-of-candidates",
]
DATA = [
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    "a=mid:1",
    "a=sctp-port:5000",
]


def sdp(*groups: list[str]) -> str:
    return "\r\n".join(line for group in groups for line in group) + "\r\n"


VALID = sdp(SESSION, VIDEO, ICE, DTLS, DATA, ICE, DTLS)


def test_valid_offer_passes_unchanged_without_filter() -> None:
    assert check_offer(VALID, "offer") == VALID


def test_filter_drops_non_loopback_candidates() -> None:
    checked = check_offer(VALID, "offer", address_allowed=is_loopback_address)
    assert "127.0.0.1 50000" in checked
    assert "192.168.1.20" not in checked


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("garbage", "offer", "not an SDP"),
        ("", "offer", "no SDP text"),
        (None, "offer", "no SDP text"),
        (VALID, "answer", "type 'offer'"),
        (VALID, None, "type 'offer'"),
        ("v=0\r\nthis is not sdp\r\n", "offer", "not an SDP"),
        (sdp(SESSION), "offer", "no media section"),
        (sdp(SESSION, VIDEO, DTLS), "offer", "no ICE credentials"),
        (sdp(SESSION, VIDEO, ICE), "offer", "no DTLS fingerprint"),
        (sdp(SESSION, DATA, ICE, DTLS), "offer", "no video section"),
        (sdp(SESSION, VIDEO[:6], ICE, DTLS), "offer", "wait for ICE gathering"),
        ("v=0\r\nm=video x\r\n", "offer", "cannot be parsed"),
        (sdp(SESSION, ["m=video 9 UDP/TLS/RTP/SAVPF 300"], ICE, DTLS), "offer", "cannot be parsed"),
        ("v=0\r\n" + "a=x\r\n" * MAX_OFFER_CHARS, "offer", "larger than"),
    ],
)
def test_unusable_offers_raise_invalid_offer(text: object, kind: object, message: str) -> None:
    with pytest.raises(InvalidOffer, match=message) as caught:
        check_offer(text, kind)
    assert caught.value.message == str(caught.value)


def test_no_allowed_candidate_is_reported_as_such() -> None:
    only_private = sdp(SESSION, [*VIDEO[:6], VIDEO[7]], ICE, DTLS)
    with pytest.raises(InvalidOffer, match="no ICE candidate this server may use"):
        check_offer(only_private, "offer", address_allowed=is_loopback_address)


def test_audio_only_allowed_when_video_not_required() -> None:
    audio = [line.replace("video", "audio").replace("VP8/90000", "opus/48000/2") for line in VIDEO]
    assert check_offer(sdp(SESSION, audio, ICE, DTLS), "offer", require_video=False)


def test_bandwidth_goes_after_c_line_of_video_only() -> None:
    answer = sdp(SESSION, VIDEO, ["b=AS:2000"], ICE, DATA)
    # A b= line the answer already had is replaced, wherever it was.
    capped = with_bandwidth(answer, "video", 500).split("\r\n")
    video_at = capped.index("m=video 9 UDP/TLS/RTP/SAVPF 96")
    assert capped[video_at + 1 : video_at + 4] == [
        "c=IN IP4 0.0.0.0",
        "b=AS:500",
        "b=TIAS:500000",
    ]
    assert capped.count("b=AS:500") == 1
    assert "b=AS:2000" not in capped
    data_at = capped.index(DATA[0])
    assert not any(line.startswith("b=") for line in capped[data_at:])


def test_bandwidth_without_c_line_follows_m_line() -> None:
    capped = with_bandwidth("v=0\r\nm=video 9 RTP/AVP 96\r\na=mid:0\r\n", "video", 300)
    assert capped == "v=0\r\nm=video 9 RTP/AVP 96\r\nb=AS:300\r\nb=TIAS:300000\r\na=mid:0\r\n"
    with pytest.raises(ValueError):
        with_bandwidth(capped, "video", 0)


def test_audio_ptime_goes_into_audio_sections_only() -> None:
    audio = ["m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:2", "a=ptime:20"]
    answer = sdp(SESSION, VIDEO, ICE, audio, ICE, DATA)
    lines = with_audio_ptime(answer, 60).split("\r\n")
    audio_at, data_at = lines.index(audio[0]), lines.index(DATA[0])
    assert lines[audio_at:data_at].count("a=ptime:60") == 1
    assert "a=ptime:20" not in lines  # replaced, not doubled
    assert lines.count("a=ptime:60") == 1  # video and data untouched
    with pytest.raises(ValueError):
        with_audio_ptime(answer, 0)
