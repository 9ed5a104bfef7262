"""Reading screenshots without an imaging library: how varied a PNG's pixels are."""

from __future__ import annotations

import zlib

__all__ = ["png_pixel_stdev"]


def png_pixel_stdev(png: bytes) -> float:
    """Standard deviation of the grey level (0-255) over the pixels of an 8-bit RGB(A) PNG.

    A blank (single-colour) screenshot gives 0. Decoded here so that tests need no imaging
    library: PNG is zlib-compressed scanlines, each with one of five byte filters.
    """
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            depth, colour = body[8], body[9]
            if depth != 8 or colour not in (2, 6):
                raise ValueError("only 8-bit RGB or RGBA PNGs are supported")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    total = total_sq = 0
    for y in range(height):
        start = y * (stride + 1)
        method, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(method, line, prev, channels)
        for x in range(0, stride, channels):
            grey = (line[x] + line[x + 1] + line[x + 2]) // 3
            total += grey
            total_sq += grey * grey
        prev = line
    n = width * height
    mean = total / n
    return float(max(0.0, total_sq / n - mean * mean) ** 0.5)


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            upleft = prev[i - bpp] if i >= bpp else 0
            p = left + up - upleft
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else upleft
            line[i] = (line[i] + pred) & 0xFF
