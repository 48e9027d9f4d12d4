"""Helpers for tests that run ``manage.py`` commands in child processes against the live test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="child processes need a database they can share with the test (run with DATABASE_URL=postgres://...)",
)


def child_env(log: Path | None = None, **extra: Any) -> dict[str, str]:
    """Environment for a child ``manage.py``: the test database's name, the task log, and ``extra`` settings."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.cron_support.settings",
        PYCK_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    if log is not None:
        env["PYCK_CRON_LOG"] = str(log)
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Child:
    """A ``python -m django <args>`` child process whose output is collected line by line as it comes
    (``python -m <module> <args>`` with another ``module``)."""

    def __init__(self, args: Sequence[str], env: dict[str, str], module: str = "django") -> None:
        command = [*args, "--skip-checks"] if module == "django" else list(args)
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def output(self) -> str:
        """Everything written so far, stdout then stderr (for failure messages)."""
        return "".join(self.stdout) + "\n--- stderr ---\n" + "".join(self.stderr)

    def wait_for_output(self, text: str, timeout: float = 15) -> None:
        """Wait until a stdout line contains ``text``; fail (showing the output) if the child exits first."""

        def seen() -> bool:
            if any(text in line for line in self.stdout):
                return True
            if self.process.poll() is not None:
                pytest.fail(f"child exited with {self.process.returncode} before printing {text!r}:\n{self.output()}")
            return False

        wait_for(seen, timeout, f"{text!r} in the output of {self.process.args}")

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child."""
        self.process.send_signal(signum)

    def wait(self, timeout: float = 10) -> int:
        """Wait for the child to exit and its output to be read; return its exit code."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"child did not exit within {timeout}s:\n{self.output()}")
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM the child (if still running) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the child and reap it (also the cleanup for children a failing test left running)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def run_manage(args: Sequence[str], env: dict[str, str], timeout: float = 15) -> subprocess.CompletedProcess[str]:
    """Run ``python -m django <args>`` to completion (bounded by ``timeout``)."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def log_lines(log: Path) -> list[tuple[str, str, int, float]]:
    """The ``(event, task, pid, time)`` lines the support tasks wrote, oldest first."""
    if not log.exists():
        return []
    lines = []
    for line in log.read_text().splitlines():
        event, task, pid, at = line.split()
        lines.append((event, task, int(pid), float(at)))
    return lines


def runs(log: Path, task: str = "record") -> list[tuple[int, float, float | None]]:
    """The runs of ``task`` in the log as ``(pid, start, end or None)``."""
    open_runs: dict[int, float] = {}
    done: list[tuple[int, float, float | None]] = []
    for event, name, pid, at in log_lines(log):
        if name != task:
            continue
        if event == "start":
            if pid in open_runs:
                done.append((pid, open_runs.pop(pid), None))
            open_runs[pid] = at
        elif event == "end":
            done.append((pid, open_runs.pop(pid), at))
    done.extend((pid, start, None) for pid, start in open_runs.items())
    return sorted(done, key=lambda run: run[1])
