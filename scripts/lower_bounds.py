"""Print ``name==lower_bound`` for every unconditional requirement of a built wheel.

Used by ``scripts/check_wheel.sh`` as a constraints file: installing the wheel with it gives
the oldest versions the package metadata claims to support, so a lower bound that is too low
fails the check instead of failing a user. Optional extras (``; extra == ...``) and other
requirements behind environment markers are left out: the plain ``pip install evalcli`` does
not install them.

Exits 1 (naming the requirement) when a requirement has no lower bound: the project's policy
is that every dependency states the oldest version it was checked against.

Usage: ``python scripts/lower_bounds.py dist/evalcli-X-py3-none-any.whl``
"""

from __future__ import annotations

import sys
import zipfile
from email.parser import HeaderParser

from packaging.requirements import Requirement


def wheel_requirements(wheel: str) -> list[Requirement]:
    """The ``Requires-Dist`` entries of ``wheel``'s METADATA, parsed."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = HeaderParser().parsestr(zf.read(name).decode("utf-8"))
    return [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]


def lower_bound(req: Requirement) -> str | None:
    """The version a ``>=``, ``==`` or ``~=`` clause of ``req`` names, if any."""
    for spec in req.specifier:
        if spec.operator in (">=", "==", "~=", "==="):
            return spec.version
    return None


def main(argv: list[str]) -> int:
    """Print the constraints for ``argv[0]``; 1 when a requirement has no lower bound."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    unbounded: list[str] = []
    for req in wheel_requirements(argv[0]):
        if req.marker is not None:
            continue  # an extra or a platform-specific dependency: not installed by default
        version = lower_bound(req)
        if version is None:
            unbounded.append(str(req))
        else:
            print(f"{req.name}=={version}")
    if unbounded:
        print(f"dependencies without a lower bound: {', '.join(unbounded)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
