"""Where the built-in rubrics live.

The repository keeps them in its top-level ``prompts/`` directory; a built wheel carries
the same files as ``evalcli/_builtin_prompts/`` (hatch force-include). An installed wheel
has the second; an editable install or a source checkout has only the first.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from ._errors import BuiltinPromptNotFoundError

PROMPT_SUFFIX = ".prompty"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # .../evalcli
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def builtin_prompt_dir() -> Path:
    """The directory holding the built-in rubrics.

    ``evalcli/_builtin_prompts`` when present (wheel installs), else the repository's
    ``prompts/`` next to the package (editable and development installs). Only the first
    existing directory is used, so a wheel never picks up an unrelated ``prompts/``.

    Raises:
        BuiltinPromptNotFoundError: When neither directory exists.
    """
    candidates = (_PACKAGE_DIR / "_builtin_prompts", _PACKAGE_DIR.parent / "prompts")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = " and ".join(str(c) for c in candidates)
    raise BuiltinPromptNotFoundError(
        f"the built-in rubric directory is missing (looked in {looked}); "
        "the evalcli installation is incomplete"
    )


def builtin_prompt_names() -> list[str]:
    """Names of all built-in rubrics, sorted."""
    return sorted(p.stem for p in builtin_prompt_dir().glob(f"*{PROMPT_SUFFIX}") if p.is_file())


def builtin_prompt_path(name: str) -> Path:
    """Path of the built-in rubric called ``name`` (e.g. ``"relevance"``).

    Raises:
        BuiltinPromptNotFoundError: For an unknown name (with a suggestion when one is
            close) or a missing rubric directory.
    """
    directory = builtin_prompt_dir()
    if _NAME.match(name):
        path = directory / f"{name}{PROMPT_SUFFIX}"
        if path.is_file():
            return path
    names = builtin_prompt_names()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; available: {', '.join(names)}"
    raise BuiltinPromptNotFoundError(f"no built-in rubric named {name!r}{hint}")
