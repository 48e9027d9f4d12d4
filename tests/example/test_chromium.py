"""Finding the browser: skip without it on a workstation, fail without it in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import chromium


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(chromium.shutil, "which", lambda name: None)
    monkeypatch.setattr(chromium, "CHROMIUM", "/nonexistent/chromium")
    return monkeypatch


def test_without_chromium_the_browser_tests_are_skipped(no_chromium: pytest.MonkeyPatch) -> None:
    no_chromium.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        chromium.find_chromium()


def test_without_chromium_in_ci_the_browser_tests_fail(no_chromium: pytest.MonkeyPatch) -> None:
    no_chromium.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match=r"run \.ci/install-browser"):
        chromium.find_chromium()


def test_chromium_is_found_on_its_debian_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    monkeypatch.setattr(chromium.shutil, "which", lambda name: None)
    monkeypatch.setattr(chromium, "CHROMIUM", str(browser))

    assert chromium.find_chromium() == str(browser)
