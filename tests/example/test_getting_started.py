"""The getting-started page, followed as a newcomer follows it: a new project from `startproject`, then the page's
`python manage.py` commands and files in the page's order, synced from the replay server.

The project is Django's default one (SQLite), whatever database the suite runs on.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pyck.geo.territories.uk.replay import ReplayServer

from .conftest import REPO

PAGE = REPO / "docs" / "getting-started.md"

_FENCE = re.compile(r"^```(?P<lang>\w*)(?P<attrs>[^\n]*)\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_TITLE = re.compile(r'title="(?P<title>[^"]*)"')


@dataclass(frozen=True)
class _Block:
    lang: str
    title: str | None
    code: str


def _blocks() -> list[_Block]:
    found = []
    for match in _FENCE.finditer(PAGE.read_text()):
        title = _TITLE.search(match["attrs"])
        found.append(_Block(match["lang"], title["title"] if title else None, match["code"]))
    return found


def _installed_apps(settings_block: str) -> list[str]:
    """The app names of the page's `INSTALLED_APPS = [# ..., "x"]` block (its `# ...` is the project's own)."""
    [assignment] = [node for node in ast.parse(settings_block).body if isinstance(node, ast.Assign)]
    assert isinstance(assignment.value, ast.List)
    return [element.value for element in assignment.value.elts if isinstance(element, ast.Constant)]


def _run(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_getting_started_page_works_in_a_new_project(tmp_path: Path) -> None:
    project = tmp_path / "mysite"
    project.mkdir()
    # This checkout's pyck, and none of the suite's settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYCK_")) and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(REPO)
    _run(project, env, "-m", "django", "startproject", "mysite", str(project))
    settings = project / "mysite" / "settings.py"

    commands: list[str] = []
    installed: list[str] = []  # the apps the page has added to INSTALLED_APPS so far
    with ReplayServer() as replay:
        settings.write_text(f"{settings.read_text()}\nPYCK = {replay.pyck_settings()!r}\n")
        for block in _blocks():
            if block.lang == "bash":
                for line in block.code.splitlines():
                    if line.startswith("python manage.py "):
                        commands.append(line)
                        _run(project, env, "manage.py", *line.split()[2:])
            elif block.lang == "python" and block.title == "settings.py" and "INSTALLED_APPS" in block.code:
                added = [app for app in _installed_apps(block.code) if app not in installed]
                installed += added
                settings.write_text(f"{settings.read_text()}\nINSTALLED_APPS += {added!r}\n")
            elif block.lang == "python" and block.title and block.title.startswith("app/"):
                target = project / block.title
                assert target.parent.is_dir(), f"the page shows {block.title} before the app is created"
                target.write_text(block.code)
        counted = _run(
            project,
            env,
            "manage.py",
            "shell",
            "-c",
            "from app.models import Constituency; print(Constituency.objects.values_list('name', flat=True)[0])",
        )

    assert commands[:2] == ["python manage.py startapp app", "python manage.py makemigrations"]
    assert "python manage.py run_cron_tasks --once" in commands
    assert counted.stdout.strip().splitlines()[-1] == "Inverness, Skye and West Ross-shire"
