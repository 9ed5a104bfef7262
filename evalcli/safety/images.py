"""Image parts of a row: OpenAI-style ``{"type": "image_url", "image_url": {"url": ...}}``.

A safety evaluator's optional ``images`` input is a list of such parts. Two URL forms are
accepted: ``https://`` URLs (sent to a vision judge as they are; evalcli never downloads
them) and base64 ``data:image/...;base64,...`` URLs (decoded and checked here, so a broken
part is a row error naming the part instead of a confusing answer from a service).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Literal

from evalcli.errors import RowError

_DATA_URL = re.compile(r"^data:(?P<type>image/[A-Za-z0-9.+\-]+)(?P<params>(?:;[^;,]*)*);base64,")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ImagePart:
    """One validated image part.

    Attributes:
        index: Position in the row's ``images`` list (0-based, as in ``images[1]``).
        url: The URL as given (https or data URL).
        kind: ``https`` or ``data``.
        detail: The part's ``detail`` setting, passed on to vision judges.
        base64: For data URLs, the bare base64 payload (what image:analyze wants).
        size: For data URLs, the decoded size in bytes.
    """

    index: int
    url: str
    kind: Literal["https", "data"]
    detail: str | None = None
    base64: str | None = None
    size: int = 0

    @property
    def name(self) -> str:
        """``images[<index>]``, for messages."""
        return f"images[{self.index}]"

    def chat_part(self) -> dict[str, Any]:
        """The part as a chat-completions content part."""
        image: dict[str, Any] = {"url": self.url}
        if self.detail is not None:
            image["detail"] = self.detail
        return {"type": "image_url", "image_url": image}


def _bad(line: int, index: int | None, problem: str) -> RowError:
    part = "the images input" if index is None else f"image part images[{index}]"
    return RowError("bad-image", f"row {line}: {part} {problem}")


def image_parts(value: Any, line: int) -> list[ImagePart]:
    """Validate a row's ``images`` value.

    Args:
        value: ``None`` (no images), one part, or a list of parts.
        line: The row's line number, for messages.

    Raises:
        RowError: kind ``bad-image``, naming the row and the part.
    """
    if value is None:
        return []
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise _bad(line, None, f"must be a list of image parts, not {type(value).__name__}")
    return [_one(item, i, line) for i, item in enumerate(items)]


def _one(item: Any, index: int, line: int) -> ImagePart:
    image = item.get("image_url") if isinstance(item, dict) else None
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(item, dict) or item.get("type") != "image_url" or not isinstance(url, str):
        raise _bad(
            line,
            index,
            'is not an image part; expected {"type": "image_url", "image_url": {"url": ...}}',
        )
    assert isinstance(image, dict)
    detail = image.get("detail")
    detail = detail if isinstance(detail, str) else None
    if url.startswith("https://") and len(url) > len("https://"):
        return ImagePart(index, url, "https", detail)
    match = _DATA_URL.match(url)
    if match is None:
        shown = url if len(url) <= 40 else url[:40] + "..."
        raise _bad(
            line,
            index,
            f"has URL {shown!r}, which is neither an https URL nor a base64 data URL "
            "(data:image/<type>;base64,...)",
        )
    payload = _SPACE.sub("", url[match.end() :])
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(line, index, "is a data URL whose payload is not valid base64") from None
    if not data:
        raise _bad(line, index, "is a data URL with no image data")
    return ImagePart(index, url, "data", detail, payload, len(data))
