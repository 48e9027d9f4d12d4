"""A minimal Chrome DevTools Protocol client for the browser tests: headless chromium driven over a pipe.

``--remote-debugging-pipe`` makes chromium read protocol commands from file descriptor 3 and write answers and
events to descriptor 4, as JSON messages each ended by a NUL byte; no WebSocket library is needed. One browser
serves every test of a module; each test navigates, types, reads the DOM and takes screenshots through it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

#: Where Debian's chromium package puts the browser (``.ci/install-browser`` installs it).
CHROMIUM = "/usr/bin/chromium"

#: The flags every run uses: headless, and nothing chromium would fetch for itself (updates, sync, QUIC probes).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

# Put the pipe ends given as arguments on descriptors 3 and 4, then become the browser.
_TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
)


def find_chromium() -> str:
    """Return the chromium executable; skip the test if there is none, or fail it under ``CI=true``."""
    found = shutil.which("chromium") or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed and CI=true: run .ci/install-browser before the tests.")
    pytest.skip("chromium is not installed (run .ci/install-browser or apt-get install chromium); CI=true fails.")


class BrowserError(AssertionError):
    """The browser answered a command with an error, a script threw, or an answer did not come in time."""


class Chromium:
    """One headless chromium with one page, driven over the DevTools protocol.

    Args:
        executable: the chromium binary.
        profile: an empty directory for the browser's profile.
        proxy: ``host:port`` of an HTTP proxy for every request not to the loopback interface (which chromium
            never proxies); host names other than 127.0.0.1 do not resolve.
        timeout: seconds to wait for any one answer or page load.
    """

    def __init__(self, executable: str, profile: Path, proxy: str, timeout: float = 20) -> None:
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        # Chromium wants the pipe on descriptors 3 and 4: move ours above them first, so neither overwrites the other.
        child_read = fcntl.fcntl(commands_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_write = fcntl.fcntl(answers_write, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(commands_read)
        os.close(answers_write)
        args = [
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--proxy-server=http://{proxy}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self._stderr = profile.parent / f"{profile.name}.stderr"
        with self._stderr.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _TRAMPOLINE, str(child_read), str(child_write), executable, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                pass_fds=(child_read, child_write),
            )
        os.close(child_read)
        os.close(child_write)
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.command("Page.enable")
        except BaseException:
            self.close()
            raise

    # --- protocol ---------------------------------------------------------------------------------------------

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command (to the browser, or to ``session``) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        answer = self._receive(lambda m: m.get("id") == self._next_id, f"the answer to {method}")
        if "error" in answer:
            raise BrowserError(f"{method} failed: {answer['error']}")
        return dict(answer.get("result", {}))

    def command(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command to the page and return its result."""
        return self.send(method, self._session, **params)

    def _receive(self, wanted: Any, what: str) -> dict[str, Any]:
        for index, event in enumerate(self._events):
            if wanted(event):
                return self._events.pop(index)
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if wanted(message):
                    return dict(message)
                if "method" in message:
                    self._events.append(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._answers], [], [], remaining)[0]:
                raise BrowserError(f"chromium sent no {what} within {self.timeout} s{self._log()}")
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise BrowserError(f"chromium exited (status {self.process.poll()}) before {what}{self._log()}")
            self._buffer += chunk

    def _log(self) -> str:
        return f"; its stderr ends with:\n{self._stderr.read_text(errors='replace')[-2000:]}"

    # --- the page ---------------------------------------------------------------------------------------------

    def _until_loaded(self, action: Any) -> None:
        self._events = [event for event in self._events if event.get("method") != "Page.loadEventFired"]
        action()
        self._receive(
            lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == self._session, "page load"
        )

    def open(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""

        def navigate() -> None:
            result = self.command("Page.navigate", url=url)
            if result.get("errorText"):
                raise BrowserError(f"chromium could not load {url}: {result['errorText']}")

        self._until_loaded(navigate)

    def evaluate(self, expression: str) -> Any:
        """Evaluate a JavaScript expression in the page and return its (JSON) value."""
        result = self.command("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def type(self, selector: str, text: str) -> None:
        """Focus the field ``selector`` and type ``text`` into it as a user would."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.command("Input.insertText", text=text)

    def type_and_submit(self, selector: str, text: str) -> None:
        """Type ``text`` into the field ``selector``, press Enter and wait for the next page."""
        self.type(selector, text)
        enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}

        def press() -> None:
            self.command("Input.dispatchKeyEvent", type="keyDown", text="\r", **enter)
            self.command("Input.dispatchKeyEvent", type="keyUp", **enter)

        self._until_loaded(press)

    def click(self, selector: str) -> None:
        """Click the middle of the element ``selector`` with the mouse and wait for the next page."""
        box = self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = box

        def press() -> None:
            for kind in ("mousePressed", "mouseReleased"):
                self.command("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

        self._until_loaded(press)

    def screenshot(self, path: Path, width: int, height: int) -> Path:
        """Save a PNG of the page's ``width`` x ``height`` viewport (device scale 1) to ``path``."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.command("Emulation.setDeviceMetricsOverride", **metrics)
        path.write_bytes(base64.b64decode(self.command("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        """Close the browser (kill it if it does not exit in 10 s)."""
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):  # it has exited already, or exits before answering
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._answers)
