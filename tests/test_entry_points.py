"""``evalcli.entry_points.may_declare`` never hides an entry point importlib.metadata would find,
and the command's stand-in for pydantic's plugin loader still loads a real pydantic plugin."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalcli import entry_points
from evalcli.entry_points import may_declare
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _fresh_scan() -> Iterator[None]:
    entry_points._last = None
    yield
    entry_points._last = None


def _dist(root: Path, name: str, entry_points_txt: str | None) -> None:
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if entry_points_txt is not None:
        (info / "entry_points.txt").write_text(textwrap.dedent(entry_points_txt))


def _declared(group: str) -> bool:
    return bool(list(importlib.metadata.entry_points(group=group)))


@pytest.mark.parametrize(
    "group", ["console_scripts", "pytest11", "evalcli.evaluators", "pydantic", "no.such.group"]
)
def test_agrees_with_importlib_metadata_here(group: str) -> None:
    # False must mean "none": True may over-answer, never under-answer.
    assert may_declare(group) or not _declared(group)
    if _declared(group):
        assert may_declare(group)


def test_a_distribution_on_the_path_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not may_declare("evalcli.evaluators")
    _dist(tmp_path, "Evalcli_Plugin_Demo", "[evalcli.evaluators]\ndemo = demo:register\n")
    _dist(tmp_path, "plain", None)  # no entry_points.txt at all
    (tmp_path / "legacy.egg-info").write_text("Metadata-Version: 1.0\n")  # a file, not a dir
    monkeypatch.syspath_prepend(str(tmp_path))
    assert may_declare("evalcli.evaluators")
    assert _declared("evalcli.evaluators")
    assert not may_declare("no.such.group")


def test_a_new_distribution_after_a_scan_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not may_declare("evalcli.evaluators")
    _dist(tmp_path, "late", "[evalcli.evaluators]\nlate = late:register\n")
    assert may_declare("evalcli.evaluators")


def test_what_it_cannot_inspect_is_left_to_importlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
        zf.writestr("zipped-1.0.dist-info/entry_points.txt", "[no.such.group]\nx = y:z\n")
    monkeypatch.syspath_prepend(str(archive))
    assert may_declare("no.such.group") and _declared("no.such.group")
    monkeypatch.undo()
    entry_points._last = None

    class OwnFinder:
        @staticmethod
        def find_spec(*args: object) -> None:
            return None

        @staticmethod
        def find_distributions(*args: object) -> list[object]:
            return []

    monkeypatch.setattr(sys, "meta_path", [OwnFinder, *sys.meta_path])
    assert may_declare("no.such.group")


PLUGIN = """
from pathlib import Path
import os


class Plugin:
    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind,
                             config, plugin_settings):
        Path(os.environ["PLUGIN_MARK"]).write_text("called")
        return None, None, None


plugin = Plugin()
"""


def test_the_command_still_loads_an_installed_pydantic_plugin(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "fake_pydantic_plugin", "[pydantic]\nfake = fake_pydantic_plugin:plugin\n")
    (site / "fake_pydantic_plugin.py").write_text(PLUGIN)
    mark = tmp_path / "mark"
    probe = (
        "import sys\n"
        "sys.argv = ['evalcli', 'validate', 'configs/quickstart.yaml']\n"
        "from evalcli.cli import main\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**_env(), "PYTHONPATH": str(site), "PLUGIN_MARK": str(mark)},
    )
    assert proc.returncode == 0, proc.stderr
    assert mark.read_text() == "called"


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
