"""The health page in the admin: staff only, one row per model, partition and receiver, a chart of the runs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from pyck.core.health.chart import COLOURS, run_chart
from pyck.core.health.status import RunPoint

from .runs import add_run

pytestmark = pytest.mark.django_db

URL = "/admin/pyck/datahealth/"


def test_the_page_shows_each_row_with_its_level_and_a_chart_of_its_runs(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "x"))
    now = timezone.now()
    add_run("testapp.Party", now - timedelta(hours=1), created=3, updated=2)
    for minutes in (30, 20, 10):
        add_run("testapp.City", now - timedelta(minutes=minutes), "failed", failed=4)
    page = client.get(URL).content.decode()
    party = re.search(r'<tr class="model green" data-name="testapp.Party">(.*?)</tr>', page, re.S)
    city = re.search(r'<tr class="model red" data-name="testapp.City">(.*?)</tr>', page, re.S)
    assert party and city, page
    assert party.group(1).count('class="duration succeeded"') == 1
    assert 'class="count created"' in party.group(1) and 'class="count updated"' in party.group(1)
    assert city.group(1).count('class="duration failed"') == 3
    assert "3 failed runs in a row" in city.group(1)
    assert 'id="pyck-overall">red<' in page
    assert client.get("/admin/pyck/").status_code == 200
    assert "Data health" in client.get("/admin/").content.decode()


def test_staff_without_the_view_permission_and_anonymous_users_do_not_see_it(client):
    staff = User.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_datahealth"))
    assert client.get(URL).status_code == 200
    client.logout()
    assert client.get(URL).status_code == 302  # to the login page


def test_the_chart_draws_the_last_30_runs_coloured_by_status_with_heights_by_duration():
    start = timezone.now()
    runs = [
        RunPoint(start + timedelta(minutes=n), "failed" if n % 10 == 9 else "succeeded", float(n + 1), n, 0, 0, 0)
        for n in range(35)
    ]
    svg = str(run_chart(runs))
    bars = re.findall(r'<rect class="duration (\w+)" x="(\d+)" y="(\d+)" width="7" height="(\d+)" fill="([^"]+)"', svg)
    assert len(bars) == 30  # runs 5..34
    assert bars[-1][3] == "24"  # the longest run is the full height
    assert int(bars[0][3]) < int(bars[-1][3])
    assert {(status, fill) for status, _x, _y, _h, fill in bars} == {
        ("succeeded", COLOURS["green"]),
        ("failed", COLOURS["red"]),
    }
    assert "<script" not in svg
    assert run_chart([]) == ""
