"""Regenerate docs/report-quickstart.png, the README's picture of report.html.

Runs the quickstart (configs/quickstart.yaml, no model needed) into a temporary directory,
writes its report.html, opens it in headless Chromium (Debian's ``chromium``; see
scripts/bootstrap.sh), opens the first failing row and saves a screenshot of the page's top::

    .venv/bin/python scripts/report_screenshot.py [--out docs/report-quickstart.png]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evalcli.report import write_report  # noqa: E402
from evalcli.testing.chromium import Browser  # noqa: E402

# Open a failing row and show the table's filter set to failing rows, so that the picture
# shows the row details too; then scroll back to the top.
_PREPARE = """(() => {
  const f = document.getElementById('f-result');
  f.value = 'fail'; f.dispatchEvent(new Event('change'));
  const first = document.querySelector('#rows tr.row:not([hidden])');
  if (first) first.click();
  window.scrollTo(0, 0);
})()"""


def main(argv: list[str] | None = None) -> int:
    """Run the quickstart, render its report and save the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "report-quickstart.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000, help="pixels of the page's top")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="evalcli-quickstart-") as tmp:
        run = subprocess.run(
            [sys.executable, "-m", "evalcli", "run", "configs/quickstart.yaml", "-o", tmp, "-q"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        if run.returncode not in (0, 1):  # 1: a gate failed, the report is still worth a look
            print(f"the quickstart run failed (exit {run.returncode})", file=sys.stderr)
            return run.returncode
        report = write_report(Path(tmp))
        with Browser(width=args.width, height=900) as browser:
            page = browser.new_page()
            page.goto(report)
            page.evaluate(_PREPARE)
            png = page.screenshot(clip_height=args.height)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(png)
    print(f"{args.out} ({len(png) // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
