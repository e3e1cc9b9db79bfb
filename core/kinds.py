"""The alert kinds: the nouns every layer shares (detectors report them, the rules debounce
them, the API and the pages show them). The values are the public names."""

from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    """Every alert the product raises; the values are the public names."""

    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_MISMATCH = "face_mismatch"
    LOOKING_AWAY = "looking_away"
    TALKING = "talking"
    SPEECH = "speech"
    CAMERA_BLOCKED = "camera_blocked"
    STREAM_LOST = "stream_lost"
    # Reported by the candidate's page over the data channel.
    FOCUS_LOST = "focus_lost"
    FULLSCREEN_EXIT = "fullscreen_exit"
    COPY_PASTE = "copy_paste"
    # The candidate's screen share, when the exam asks for it (also reported by the page).
    SCREEN_SHARE_STOPPED = "screen_share_stopped"
    NOT_ENTIRE_SCREEN = "not_entire_screen"
    SECOND_MONITOR = "second_monitor"
