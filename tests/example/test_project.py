"""The example project is consistent: Django's and pyck's system checks pass, its migrations match its models."""

from __future__ import annotations

from pathlib import Path

from .conftest import example_env, run_manage


def test_the_example_project_passes_its_checks_and_its_migrations_are_up_to_date(tmp_path: Path) -> None:
    env = example_env(f"sqlite:///{tmp_path / 'unused.sqlite3'}")

    checked = run_manage(env, "check", "--fail-level=WARNING")
    migrations = run_manage(env, "makemigrations", "--check", "--dry-run")

    assert "System check identified no issues" in checked.stdout, checked.stdout + checked.stderr
    assert "No changes detected" in migrations.stdout, migrations.stdout + migrations.stderr
