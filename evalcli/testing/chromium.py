"""A minimal headless-Chromium driver for tests: the DevTools protocol over a pipe.

The report tests, ``benchmarks/bench_report.py`` and ``scripts/report_screenshot.py`` load
``report.html`` in Debian's ``chromium`` (``apt-get install chromium``; ``scripts/bootstrap.sh``
installs it) and watch what the page does. Chromium is started with
``--remote-debugging-pipe``: it reads DevTools commands from file descriptor 3 and writes
answers and events to descriptor 4, NUL-terminated JSON. No port is opened, no browser is
downloaded and no third-party client is needed.

Background networking, component updates, sync and first-run tasks are turned off and every
browser gets a fresh profile, so the only requests a page's ``Network`` events show are the
page's own.

Usage::

    with Browser() as browser:
        page = browser.new_page()
        page.goto(Path("report.html"))
        page.evaluate("document.title")
        assert not page.console_errors() and page.requests() == [page.url]
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Browser", "BrowserError", "Page", "find_chromium"]

#: Where Debian's package puts the browser (``apt-get install chromium``).
DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Switches that keep a headless browser quiet and reproducible: no traffic of its own, no
# profile reuse, no GPU (there is none on CI machines).
_FLAGS = (
    "--headless=new",
    "--remote-debugging-pipe",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
)


_TRAMPOLINE = (
    "import os, sys\n"
    "r, w = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.dup2(r, 3)\n"
    "os.dup2(w, 4)\n"
    "os.close(r)\n"
    "os.close(w)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


class BrowserError(RuntimeError):
    """Chromium is missing, died, or answered a command with an error."""


def find_chromium() -> str | None:
    """The Chromium executable: ``$EVALCLI_CHROMIUM``, /usr/bin/chromium, or on the PATH."""
    for candidate in (os.environ.get("EVALCLI_CHROMIUM"), DEFAULT_CHROMIUM):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium process; open many pages in it with :meth:`new_page`.

    Args:
        executable: The browser (default: :func:`find_chromium`).
        width, height: Viewport of new pages, in CSS pixels.
        timeout_s: Longest wait for any one answer or event.
    """

    def __init__(
        self,
        executable: str | None = None,
        *,
        width: int = 1280,
        height: int = 900,
        timeout_s: float = 30.0,
    ) -> None:
        exe = executable or find_chromium()
        if exe is None:
            raise BrowserError("chromium not found (apt-get install chromium)")
        self.timeout_s = timeout_s
        self.width, self.height = width, height
        self._profile = tempfile.TemporaryDirectory(prefix="evalcli-chromium-")
        # The browser's ends are moved to descriptors 10 and up, clear of 3 and 4, so that
        # moving them there below cannot overwrite one with the other.
        to_browser_r, self._to_browser = _high_pipe()
        self._from_browser, from_browser_w = _high_pipe()
        args = [*_FLAGS, f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
        # A tiny Python trampoline moves the two pipe ends to descriptors 3 and 4, where
        # Chromium expects them (no preexec_fn: unsafe when the caller runs threads, as pytest
        # may; no shell: dash refuses descriptors above 9).
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _TRAMPOLINE,
                str(to_browser_r),
                str(from_browser_w),
                exe,
                *args,
                "about:blank",
            ],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self._consumed: set[int] = set()  # indexes of events wait_event returned
        self._replies: dict[int, dict[str, Any]] = {}
        try:
            self.version = self.call("Browser.getVersion").get("product", "")
        except BrowserError:
            self.close()
            raise

    # -- protocol ---------------------------------------------------------------------------

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and wait for its answer (events that arrive meanwhile are kept)."""
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data) :]
        deadline = time.monotonic() + self.timeout_s
        while ident not in self._replies:
            self._read(deadline, f"the answer to {method}")
        reply = self._replies.pop(ident)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message', reply['error'])}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def events(self, session: str | None = None) -> list[dict[str, Any]]:
        """Every event received so far (of one page session, when given)."""
        return [e for e in self._events if session is None or e.get("sessionId") == session]

    def wait_event(self, method: str, session: str | None = None) -> dict[str, Any]:
        """The first not yet consumed event named ``method`` (waits for it); it is consumed."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            for i, event in enumerate(self._events):
                if (
                    i not in self._consumed
                    and event.get("method") == method
                    and (session is None or event.get("sessionId") == session)
                ):
                    self._consumed.add(i)
                    return event
            self._read(deadline, f"the event {method}")

    def _read(self, deadline: float, waiting_for: str) -> None:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"timed out waiting for {waiting_for}")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited while waiting for {waiting_for}")
            self._buffer += chunk
        while b"\0" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\0", 1)
            message = json.loads(raw)
            if "id" in message:
                self._replies[message["id"]] = message
            else:
                self._events.append(message)

    # -- pages ------------------------------------------------------------------------------

    def new_page(self) -> Page:
        """A new tab with the browser's viewport, its network, log and console watched."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, target, session)
        for domain in ("Page", "Runtime", "Network", "Log"):
            page.call(f"{domain}.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        return page

    def close(self) -> None:
        """End the browser process and remove its profile."""
        if self._proc.poll() is None:
            with contextlib.suppress(BrowserError, OSError):
                self.call("Browser.close")
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _high_pipe() -> tuple[int, int]:
    """A pipe whose two descriptors are 10 or higher (non-inheritable, as os.pipe makes them)."""
    low = os.pipe()
    high = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in low)
    for fd in low:
        os.close(fd)
    return high[0], high[1]


class Page:
    """One tab of a :class:`Browser`."""

    def __init__(self, browser: Browser, target: str, session: str) -> None:
        self.browser = browser
        self.target = target
        self.session = session
        self.url = ""

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A DevTools command in this tab's session."""
        return self.browser.call(method, params, self.session)

    def goto(self, path: Path) -> float:
        """Open a local file and wait for its load event; returns the seconds it took."""
        self.url = path.resolve().as_uri()
        start = time.perf_counter()
        self.call("Page.navigate", {"url": self.url})
        self.browser.wait_event("Page.loadEventFired", self.session)
        # Two animation frames after load: style, layout and the first paint are done.
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        return time.perf_counter() - start

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression (promises are awaited)."""
        reply = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return reply.get("result", {}).get("value")

    def requests(self) -> list[str]:
        """URLs of every request this tab sent (the page itself included)."""
        return [e["params"]["request"]["url"] for e in self._events("Network.requestWillBeSent")]

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (CSP refusals among
        them) of this tab."""
        out: list[str] = []
        for event in self._events("Runtime.consoleAPICalled"):
            if event["params"].get("type") in ("error", "assert"):
                args = event["params"].get("args", [])
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
        for event in self._events("Runtime.exceptionThrown"):
            out.append(str(event["params"]["exceptionDetails"].get("text", "exception")))
        for event in self._events("Log.entryAdded"):
            entry = event["params"]["entry"]
            if entry.get("level") == "error":
                out.append(f"{entry.get('source')}: {entry.get('text')}")
        return out

    def screenshot(
        self, *, full_page: bool = False, clip_height: int | None = None, scale: float = 1.0
    ) -> bytes:
        """A PNG of the viewport, of the whole page, or of its top ``clip_height`` pixels,
        at ``scale`` (0.25: a quarter of the width and height)."""
        params: dict[str, Any] = {"format": "png"}
        height = self.browser.height
        if full_page or clip_height is not None:
            height = self.evaluate("document.documentElement.scrollHeight")
            if clip_height is not None:
                height = min(height, clip_height)
            params["captureBeyondViewport"] = True
        if full_page or clip_height is not None or scale != 1.0:
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": self.browser.width,
                "height": height,
                "scale": scale,
            }
        return base64.b64decode(self.call("Page.captureScreenshot", params)["data"])

    def close(self) -> None:
        """Close the tab."""
        self.browser.call("Target.closeTarget", {"targetId": self.target})

    def _events(self, method: str) -> Iterator[dict[str, Any]]:
        return (e for e in self.browser.events(self.session) if e.get("method") == method)
