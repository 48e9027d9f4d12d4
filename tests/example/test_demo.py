"""``python -m example_project.demo --replay``: the tutorial end to end, as a user runs it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from example_project.demo import manage_command, shown_path

from .conftest import REPO, example_env, new_database, on_postgresql


def _demo(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "example_project.demo", "--replay", *args],
        cwd=REPO,
        env=example_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the demo exited {done.returncode} on {database_url}:\n{done.stdout}\n{done.stderr}"
    return done


# A temporary SQLite file always; a new PostgreSQL database too when the suite runs on PostgreSQL.
@pytest.mark.parametrize(
    "postgresql", [False, True] if on_postgresql() else [False], ids=lambda pg: "postgresql" if pg else "sqlite"
)
def test_the_demo_syncs_and_lists_the_constituency_its_mp_and_party(tmp_path: Path, postgresql: bool) -> None:
    with new_database(tmp_path, postgresql) as database_url:
        first = _demo(database_url)
        again = _demo(database_url, "--rows", "0")  # a second run updates the same rows

    assert "Replaying recorded UK Parliament responses from http://127.0.0.1:" in first.stdout
    assert "1 constituency, 3 MPs, 15 parties." in first.stdout
    [row] = [line.split() for line in first.stdout.splitlines() if line.startswith("  Inverness")]
    assert " ".join(row) == "Inverness, Skye and West Ross-shire Mr Angus MacDonald Liberal Democrat #faa01a"
    assert "1 constituency, 3 MPs, 15 parties." in again.stdout
    assert "Inverness" not in again.stdout


def _printed_command(stdout: str, label: str) -> list[str]:
    [line] = [line for line in stdout.splitlines() if line.startswith(label)]
    return shlex.split(line[len(label) :].split(", then ")[0].removeprefix("make serve, or "))


@pytest.fixture(scope="module")
def replayed_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The output of one replayed demo run on a new SQLite database, and that database's URL."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
    return _demo(database_url, "--rows", "0").stdout, database_url


def test_the_printed_commands_run_without_an_activated_environment(replayed_demo: tuple[str, str]) -> None:
    stdout, database_url = replayed_demo
    runserver = _printed_command(stdout, "Browse them: ")
    createsuperuser = _printed_command(stdout, "The admin, with a Sync now button: ")

    assert runserver[1:] == ["example_project/manage.py", "runserver"]
    assert createsuperuser[1:] == ["example_project/manage.py", "createsuperuser"]
    assert runserver[0] == createsuperuser[0] != "python"
    # As a user types it in a fresh shell: no virtual environment on PATH, so a bare "python" would not be found
    # (or would be one without Django). The printed interpreter must import Django and run the project.
    env = {**example_env(database_url), "PATH": "/usr/bin:/bin"}
    env.pop("VIRTUAL_ENV", None)
    checked = subprocess.run(
        [*runserver[:-1], "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified" in checked.stdout


def test_make_demo_prints_the_venv_interpreter_relative_to_the_checkout() -> None:
    venv_python = str(REPO / ".venv" / "bin" / "python")
    assert manage_command("runserver", executable=venv_python, cwd=REPO) == (
        ".venv/bin/python example_project/manage.py runserver"
    )
    # An interpreter outside the directory the command is typed in, or manage.py outside it: absolute paths.
    assert manage_command("runserver", executable="/opt/py/bin/python", cwd=REPO) == (
        "/opt/py/bin/python example_project/manage.py runserver"
    )
    assert manage_command("runserver", executable=venv_python, cwd=REPO / "docs") == (
        f"{venv_python} {REPO / 'example_project' / 'manage.py'} runserver"
    )
    assert shown_path(REPO / "a b" / "c", REPO) == "a b/c"
    assert manage_command("x", executable=str(REPO / "my env" / "python"), cwd=REPO).startswith("'my env/python' ")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_serve_runs_the_example_site_with_the_venv_interpreter() -> None:
    # As typed in a shell: not the variables of a make that runs this suite (CI runs `make test VENV=...`, and
    # make exports variables set on its command line to the processes it starts).
    ignored = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VENV", "PYTHON", "DJANGO", "PYTEST_ARGS"}
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    planned = subprocess.run(
        ["make", "-n", "serve"], cwd=REPO, env=env, capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()
    assert planned[-1] == ".venv/bin/python example_project/manage.py runserver"


def test_the_replayed_demo_says_why_its_data_set_is_small(replayed_demo: tuple[str, str]) -> None:
    [line] = [line for line in replayed_demo[0].splitlines() if line.startswith("The recorded data set is small")]
    assert "no other real recording of these answers was found in public sources" in line
    sources = line.split("; ")[-1].split(" says where")[0]
    assert (REPO / sources).is_file() and sources.endswith("recordings/SOURCES.md")
