"""WebRTC signaling: ICE settings, offer checking, one peer connection per exam session."""
