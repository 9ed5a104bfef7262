"""Image format and size sniffing for the stub's Content Safety ``image:analyze`` route.

Only headers are read (no decoding), enough to enforce the documented format list and the
pixel-dimension limits.
"""

from __future__ import annotations

import struct

__all__ = ["image_size"]

_PNG = b"\x89PNG\r\n\x1a\n"


def image_size(data: bytes) -> tuple[str, tuple[int, int] | None] | None:
    """(format, (width, height) or None when not parsed) for the supported formats, else None."""
    try:
        if data.startswith(_PNG) and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return "png", (w, h)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", data[6:10])
            return "gif", (w, h)
        if data.startswith(b"BM"):
            w, h = struct.unpack("<ii", data[18:26])
            return "bmp", (w, abs(h))
        if data.startswith(b"\xff\xd8\xff"):
            return "jpeg", _jpeg_size(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return "webp", _webp_size(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return "tiff", None  # dimensions live in an IFD; not worth parsing for a stub
    except struct.error:
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
        # SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + seg_len
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
