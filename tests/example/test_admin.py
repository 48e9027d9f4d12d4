"""The example project's admin, over HTTP against ``runserver``: the synced tutorial models and their history."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
import requests

from .conftest import ADMIN_PASSWORD, ADMIN_USER, ExampleSite

CONSTITUENCY, MP, PARTY = "Inverness, Skye and West Ross-shire", "Mr Angus MacDonald", "Liberal Democrat"


@pytest.fixture(scope="module")
def admin_session(example_site: ExampleSite) -> Iterator[requests.Session]:
    """A browser-like session logged into the example project's admin as its superuser."""
    with requests.Session() as session:
        login = f"{example_site.url}/admin/login/"
        session.get(login, timeout=10).raise_for_status()
        answer = session.post(
            login,
            data={
                "username": ADMIN_USER,
                "password": ADMIN_PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": login},
            timeout=30,
        )
        assert answer.status_code == 200 and answer.url == f"{example_site.url}/admin/", answer.text[-2000:]
        yield session


def _page(session: requests.Session, url: str) -> str:
    answer = session.get(url, timeout=10)
    assert answer.status_code == 200, f"{url}: {answer.status_code}"
    return html.unescape(answer.text)


def test_the_tutorial_models_are_listed_with_their_sync_columns(admin_session, example_site):
    admin = f"{example_site.url}/admin"

    constituencies = _page(admin_session, f"{admin}/constituencies/constituency/")
    mps = _page(admin_session, f"{admin}/constituencies/mp/?q=MacDonald")
    parties = _page(admin_session, f"{admin}/constituencies/party/?q=Liberal")

    assert CONSTITUENCY in constituencies and MP in constituencies
    assert MP in mps and PARTY in mps
    assert PARTY in parties and "background:#faa01a" in parties
    for page in (constituencies, mps, parties):
        assert "column-external_id" in page and "column-last_sync_time" in page
        assert '<option value="sync_now">Sync now</option>' in page


def test_synced_fields_are_read_only_on_the_change_page(admin_session, example_site):
    changelist = f"{example_site.url}/admin/constituencies/constituency/"
    listing = _page(admin_session, changelist)
    [change] = re.findall(r'href="(/admin/constituencies/constituency/[-0-9a-f]{36}/change/)', listing)

    page = _page(admin_session, example_site.url + change)

    assert f'<div class="readonly">{CONSTITUENCY}</div>' in page
    assert 'name="name"' not in page and 'name="external_id"' not in page and 'name="current_mp"' not in page


def test_sync_now_resyncs_and_reports(admin_session, example_site):
    changelist = f"{example_site.url}/admin/constituencies/constituency/"
    page = admin_session.get(changelist, timeout=10).text
    [pk] = re.findall(r'name="_selected_action" value="([0-9a-f-]{36})"', page)

    answer = admin_session.post(
        changelist,
        data={"action": "sync_now", "_selected_action": pk, "csrfmiddlewaretoken": admin_session.cookies["csrftoken"]},
        headers={"Referer": changelist},
        timeout=60,
    )

    assert answer.status_code == 200 and answer.url == changelist
    report = r'<li class="success">Sync of constituencies.Constituency succeeded: 0 created, \d+ updated, \d+ unchanged'
    assert re.search(report, answer.text), answer.text[-3000:]
    history = _page(admin_session, f"{example_site.url}/admin/pyck/syncrun/?model=constituencies.Constituency")
    assert "constituencies.Constituency" in history


def test_the_detail_page_says_when_the_data_was_last_checked(admin_session, example_site):
    listing = _page(admin_session, f"{example_site.url}/")
    [href] = re.findall(r'<tr class="constituency">\s*<td><a href="([^"]+)"', listing)

    detail = _page(admin_session, f"{example_site.url}{href}")

    [line] = re.findall(r'<p class="muted synced">([^<]*)</p>', detail)
    assert re.fullmatch(
        r"Checked against the UK Parliament on \d+ \w+ \d{4}, \d\d:\d\d; last changed by a sync on \d+ \w+ \d{4}, \d\d:\d\d\.",
        line,
    ), line
