"""Packaging: what the code imports is what pyproject.toml declares.

``scripts/check_wheel.sh`` (part of ``make test``) proves the declared lower bounds by
installing the built wheel; these tests catch the cheaper mistakes first, in milliseconds:
a third-party import (top-level or lazy, inside a function) that no requirement installs,
a declared requirement nothing imports, and a requirement without a lower bound.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "evalcli"


def _norm(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    assert match, req
    return _norm(match.group(1))


def third_party_imports(package: Path) -> dict[str, set[str]]:
    """Dotted names of every absolute non-stdlib import under ``package`` (wherever it
    stands: module level, inside functions, under TYPE_CHECKING) -> the files importing it."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == package.name or top in sys.stdlib_module_names:
                    continue
                found.setdefault(name, set()).add(str(path.relative_to(package.parent)))
    return found


def declared(pyproject: Path) -> tuple[set[str], set[str]]:
    """(required, optional) distribution names: ``[project] dependencies`` and the extras
    users can ask for (``dev`` is for working on evalcli, not for using it)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    required = {_requirement_name(r) for r in project.get("dependencies", [])}
    optional = {
        _requirement_name(r)
        for extra, reqs in project.get("optional-dependencies", {}).items()
        if extra != "dev"
        for r in reqs
    }
    return required, optional


@functools.cache
def _installed_providers() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())  # slow: reads every dist


def distributions_of(import_name: str) -> set[str]:
    """Distributions that provide ``import_name``: the installed ones, else the conventional
    name (``azure.identity`` -> ``azure-identity``) for an optional one not installed here."""
    installed = _installed_providers().get(import_name.split(".")[0])
    if installed:
        return {_norm(d) for d in installed}
    return {_norm(import_name)}


def undeclared_imports(pyproject: Path, package: Path) -> list[str]:
    """``"module (file)"`` for every third-party import no declared requirement provides."""
    required, optional = declared(pyproject)
    missing = []
    for name, files in sorted(third_party_imports(package).items()):
        if not distributions_of(name) & (required | optional):
            missing.append(f"{name} ({', '.join(sorted(files))})")
    return missing


def test_every_third_party_import_is_declared() -> None:
    """httpx2 was imported (lazily, in the judge, safety and HTTP target clients) but only
    reached users through openai's own dependencies, so an older openai left it out."""
    assert undeclared_imports(REPO / "pyproject.toml", PACKAGE) == []


def test_every_required_dependency_is_imported() -> None:
    required, _ = declared(REPO / "pyproject.toml")
    imported: set[str] = set()
    for name in third_party_imports(PACKAGE):
        imported |= distributions_of(name)
    assert required - imported == set()


def test_the_scan_sees_lazy_imports(tmp_path: Path) -> None:
    """The scan must find imports inside functions (where evalcli defers heavy ones)."""
    pkg = tmp_path / "evalcli"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        "import os\nfrom . import sibling\nfrom evalcli import x\n"
        "def f():\n    import httpx2\n    from openai.types import Y\n",
        encoding="utf-8",
    )
    assert set(third_party_imports(pkg)) == {"httpx2", "openai.types"}
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["openai>=2.47"]\n', encoding="utf-8")
    assert undeclared_imports(pyproject, pkg) == ["httpx2 (evalcli/m.py)"]


def test_every_requirement_has_a_lower_bound() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    reqs += [
        r for extra, rs in project["optional-dependencies"].items() if extra != "dev" for r in rs
    ]
    assert [r for r in reqs if not re.search(r"(>=|==|~=)\s*\d", r)] == []


def _fake_wheel(path: Path, requires: list[str]) -> Path:
    wheel = path / "demo-1.0-py3-none-any.whl"
    metadata = "Metadata-Version: 2.3\nName: demo\nVersion: 1.0\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", metadata)
    return wheel


def _lower_bounds(wheel: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "lower_bounds.py"), str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_lower_bounds_pins_each_plain_requirement(tmp_path: Path) -> None:
    """The constraints check_wheel.sh installs the 'lowest' venv with."""
    wheel = _fake_wheel(
        tmp_path,
        [
            "typer>=0.15.4",
            "pydantic<3,>=2.7",
            "nltk==3.10.4",
            "azure-identity>=1.15; extra == 'entra'",
        ],
    )
    res = _lower_bounds(wheel)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["typer==0.15.4", "pydantic==2.7", "nltk==3.10.4"]


@pytest.mark.parametrize("req", ["rich", "rich<15"])
def test_lower_bounds_refuses_an_unbounded_requirement(tmp_path: Path, req: str) -> None:
    res = _lower_bounds(_fake_wheel(tmp_path, ["typer>=0.15.4", req]))
    assert res.returncode == 1
    assert f"dependencies without a lower bound: {req}" in res.stderr
