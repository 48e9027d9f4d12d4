"""The example project, run as a user runs it: ``manage.py`` commands in subprocesses, its own database.

The example app is not added to the test settings: its tutorial models would join ``tests.testapp``'s copies in
the synced-model registry and the cron schedule, which other tests check exactly. Instead, the example project
gets a database of its own (a SQLite file, or a fresh PostgreSQL database on the server ``DATABASE_URL`` points
at), is synced from the replay server by ``run_cron_tasks --once`` and is served by ``runserver``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from pyck.geo.territories.uk.replay import ReplayServer

REPO = Path(__file__).resolve().parents[2]

#: The example project's superuser (created by the ``example_site`` fixture).
ADMIN_USER, ADMIN_PASSWORD = "admin", "example-admin-password"


def on_postgresql() -> bool:
    """Whether the test suite runs on PostgreSQL (``DATABASE_URL=postgres://...``)."""
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@contextmanager
def new_database(folder: Path, postgresql: bool) -> Iterator[str]:
    """Create an empty database for the example project and yield its ``DATABASE_URL``: a SQLite file in
    ``folder``, or a new database on the PostgreSQL server of the suite's ``DATABASE_URL``, dropped afterwards."""
    if not postgresql:
        yield f"sqlite:///{folder / f'example-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    import psycopg

    name = f"test_pyck_example_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    maintenance = urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def example_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The served example project's database, of the same kind as the suite's (SQLite or PostgreSQL)."""
    with new_database(tmp_path_factory.mktemp("example"), on_postgresql()) as url:
        yield url


def example_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of an example-project subprocess: its settings, ``database_url``, and ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYCK_"))}
    env.update(DJANGO_SETTINGS_MODULE="example_project.settings", DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_manage(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python example_project/manage.py <args>``; fail the test with its output if it exits non-zero."""
    command = [sys.executable, str(REPO / "example_project" / "manage.py"), *args]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ExampleSite:
    """The example project, synced and served: its root URL and its subprocess environment."""

    url: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def example_site(example_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleSite]:
    """Migrate the example project's database, sync it from the replay server with ``run_cron_tasks --once``,
    create a superuser (:data:`ADMIN_USER`) and serve it with ``runserver`` on a free port. The replay server
    stays up, so the admin's "Sync now" works too."""
    with ReplayServer() as replay:
        env = example_env(
            example_database_url, PYCK_REPLAY_URL=replay.url, DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD
        )
        run_manage(env, "migrate", "--verbosity=0")
        run_manage(env, "run_cron_tasks", "--once")  # exits non-zero if a sync failed
        run_manage(env, "createsuperuser", "--noinput", f"--username={ADMIN_USER}", "--email=admin@example.com")
        log = tmp_path_factory.mktemp("runserver") / "runserver.log"
        server, url = _runserver(env, log)
        try:
            yield ExampleSite(url=url, env=env)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _runserver(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``runserver`` on a free port and wait until it answers; try another port if that one was taken."""
    for _ in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        manage = str(REPO / "example_project" / "manage.py")
        command = [sys.executable, manage, "runserver", "--noreload", f"127.0.0.1:{port}"]
        with log.open("w") as output:
            server = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline:
            try:
                requests.get(f"{url}/", timeout=2)
                return server, url
            except requests.ConnectionError:
                time.sleep(0.05)  # polling for the server to come up, not a retry delay
        if server.poll() is None:
            server.kill()
            server.wait()
            pytest.fail(f"runserver did not answer on {url} within 30 s:\n{log.read_text()}")
        if "already in use" not in log.read_text():
            break
    pytest.fail(f"runserver exited {server.returncode}:\n{log.read_text()}")
