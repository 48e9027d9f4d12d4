"""The admin's health page of the example project in a real headless browser, at 1400 px: the levels' colours and
the chart of the last runs, against runs this test records (and removes afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyck.core.health.chart import COLOURS

from .chromium import Chromium
from .conftest import ADMIN_PASSWORD, ADMIN_USER, ExampleSite, run_manage
from .test_browser import browser, refused  # noqa: F401  (the fixtures: one chromium behind the refusing proxy)

# Runs recorded for the test (their ids are printed, to delete them afterwards): Party fails three times in a row
# (red), MP's last run is partial (amber); Constituency keeps the successful run of the example's sync (green).
RECORD = """
from datetime import timedelta
from django.utils import timezone
from pyck.core.models import SyncRun
now = timezone.now()
ids = []
for n, (model, status, seconds) in enumerate([
    ("constituencies.Party", "failed", 1.0), ("constituencies.Party", "failed", 4.0),
    ("constituencies.Party", "failed", 2.0), ("constituencies.MP", "partial", 3.0),
]):
    ids.append(SyncRun.objects.create(model=model, started=now + timedelta(seconds=n),
        finished=now + timedelta(seconds=n + seconds), duration=seconds, status=status, failed=5, updated=2).pk)
print("ids:", *ids)
"""
FORGET = "from pyck.core.models import SyncRun; SyncRun.objects.filter(pk__in=[{}]).delete()"

# Per row: its level as written and as coloured, and its chart's duration bars (status, fill as rendered).
_ROWS = """Object.fromEntries([...document.querySelectorAll("#pyck-health tbody tr")].map(row => [row.dataset.name, {
    level: row.querySelector(".pyck-level").innerText.trim(),
    colour: getComputedStyle(row.querySelector(".pyck-level")).backgroundColor,
    bars: [...row.querySelectorAll("svg.pyck-runs rect.duration")].map(bar =>
        [bar.classList[1], getComputedStyle(bar).fill, bar.getBoundingClientRect().height]),
    streak: row.querySelector(".streak").innerText,
}]))"""


def _css_rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


@pytest.fixture
def recorded_runs(example_site: ExampleSite) -> Iterator[ExampleSite]:
    output = run_manage(example_site.env, "shell", "-c", RECORD).stdout
    ids = next(line for line in output.splitlines() if line.startswith("ids:")).split()[1:]
    assert len(ids) == 4
    try:
        yield example_site
    finally:
        run_manage(example_site.env, "shell", "-c", FORGET.format(",".join(ids)))


def test_the_health_page_at_1400_px_colours_each_row_and_charts_its_runs(
    browser: Chromium,  # noqa: F811
    recorded_runs: ExampleSite,
    tmp_path: Path,
) -> None:
    site = recorded_runs.url
    browser.open(f"{site}/admin/pyck/datahealth/")
    if browser.evaluate("location.pathname") != "/admin/pyck/datahealth/":  # not logged in yet: the login page
        browser.type("#id_username", ADMIN_USER)
        browser.type_and_submit("#id_password", ADMIN_PASSWORD)
    assert browser.evaluate("location.pathname") == "/admin/pyck/datahealth/"

    browser.screenshot(tmp_path / "health.png", 1400, 800)

    rows = browser.evaluate(_ROWS)
    party, mp = rows["constituencies.Party"], rows["constituencies.MP"]
    assert (party["level"], party["colour"], party["streak"]) == ("red", _css_rgb(COLOURS["red"]), "3")
    assert (mp["level"], mp["colour"]) == ("amber", _css_rgb(COLOURS["amber"]))
    assert rows["constituencies.Constituency"]["level"] == "green"
    assert rows["constituencies.Constituency"]["colour"] == _css_rgb(COLOURS["green"])
    # Party's chart: the example's successful syncs in green (the first sync, and the admin's "Sync now" when
    # test_browser ran first), then the three failed runs in red; heights by duration, the 4-second run the
    # tallest (the full 24 px).
    red, green = _css_rgb(COLOURS["red"]), _css_rgb(COLOURS["green"])
    bars = [(status, fill) for status, fill, _ in party["bars"]]
    assert bars[-3:] == [("failed", red)] * 3
    assert bars[:-3] and set(bars[:-3]) == {("succeeded", green)}
    assert [height for _, _, height in party["bars"]][-3:] == [6, 24, 12]
    assert mp["bars"][-1] == ["partial", _css_rgb(COLOURS["amber"]), 24]
    # Everything is within the 1400 px viewport: no horizontal scroll.
    assert browser.evaluate("document.documentElement.scrollWidth") <= 1400
