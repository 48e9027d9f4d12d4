"""The example project's pages in a real headless browser (Debian's ``chromium``).

The example project is synced from the replay server and served by ``runserver`` (``example_site`` in
``conftest.py``). One chromium, driven over the DevTools protocol (:mod:`.chromium`), opens the pages, types
into the search box, follows links, reads what is rendered and takes a screenshot. It may reach 127.0.0.1
only: every other request (the MPs' thumbnails are on parliament.uk) goes to a local proxy that records and
refuses it, so no test reaches the internet.

Without chromium the tests are skipped, except under ``CI=true``, where they fail: run ``.ci/install-browser``.
"""

from __future__ import annotations

import re
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .chromium import Chromium, find_chromium
from .conftest import ADMIN_PASSWORD, ADMIN_USER, ExampleSite

LIB_DEM_ORANGE = "#faa01a"
CONSTITUENCY, MP, PARTY = "Inverness, Skye and West Ross-shire", "Mr Angus MacDonald", "Liberal Democrat"

#: The screenshot's viewport: big enough for the list, small enough to decode quickly.
WINDOW = (900, 320)

# What a row of the constituency list shows, as rendered: cell texts, the swatch's computed colour, the link.
_ROWS = """[...document.querySelectorAll("tr.constituency")].map(row => ({
    constituency: row.cells[0].innerText, mp: row.cells[1].innerText, party: row.cells[2].innerText.trim(),
    colour: getComputedStyle(row.querySelector(".swatch")).backgroundColor,
    declared: row.querySelector(".swatch").style.background,
    href: row.querySelector("a").href,
}))"""


class _RefusingProxy(BaseHTTPRequestHandler):
    """An HTTP proxy that records what the browser asked for and refuses it."""

    disable_nagle_algorithm = True
    requested: list[str]

    def _refuse(self) -> None:
        self.requested.append(self.requestline)
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def refused() -> Iterator[tuple[str, list[str]]]:
    """Start the refusing proxy; yield its address and the request lines it refused."""
    requested: list[str] = []
    handler = type("_Proxy", (_RefusingProxy,), {"requested": requested})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(refused: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One headless chromium for the module's tests."""
    executable = find_chromium()
    chromium = Chromium(executable, tmp_path_factory.mktemp("chromium") / "profile", proxy=refused[0])
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def site(example_site: ExampleSite) -> str:
    return example_site.url


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def _css_rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*_rgb(colour))


def _query(browser: Chromium) -> dict[str, list[str]]:
    return parse_qs(urlsplit(browser.evaluate("location.href")).query)


def test_the_list_shows_each_constituency_with_its_mp_and_party_colour(browser: Chromium, site: str) -> None:
    browser.open(f"{site}/")

    [row] = browser.evaluate(_ROWS)
    assert (row["constituency"], row["mp"], row["party"]) == (CONSTITUENCY, MP, PARTY)
    assert row["colour"] == _css_rgb(LIB_DEM_ORANGE)  # as rendered
    assert row["declared"] == _css_rgb(LIB_DEM_ORANGE)  # the inline style="background:#faa01a"
    assert browser.evaluate("document.title") == "Constituencies · pyck example"


def test_the_screenshot_shows_the_party_colour(browser: Chromium, site: str, tmp_path: Path) -> None:
    browser.open(f"{site}/")
    screenshot = browser.screenshot(tmp_path / "constituencies.png", *WINDOW)

    width, height, colours = _png_colours(screenshot)

    assert (width, height) == WINDOW
    # The swatch is a filled circle of the party's colour: its inner pixels are exactly that colour.
    assert _rgb(LIB_DEM_ORANGE) in colours
    # Black text on white: the page itself, not an error page.
    assert {(255, 255, 255), (0, 0, 0)} <= colours


@pytest.mark.parametrize("typed", ["skye", "MacDonald", "liberal dem"], ids=["constituency", "mp", "party"])
def test_the_search_box_finds_constituencies_by_name_mp_and_party(browser: Chromium, site: str, typed: str) -> None:
    browser.open(f"{site}/")

    browser.type_and_submit("#q", typed)

    assert _query(browser) == {"q": [typed]}
    [row] = browser.evaluate(_ROWS)
    assert (row["constituency"], row["mp"], row["party"]) == (CONSTITUENCY, MP, PARTY)
    assert browser.evaluate('document.querySelector("#q").value') == typed


def test_a_search_without_a_match_says_so(browser: Chromium, site: str) -> None:
    browser.open(f"{site}/")

    browser.type_and_submit("#q", "Atlantis")

    assert _query(browser) == {"q": ["Atlantis"]}
    assert browser.evaluate(_ROWS) == []
    assert "No constituencies match “Atlantis”." in browser.evaluate("document.querySelector('main').innerText")
    assert browser.evaluate('document.querySelector("#q").value') == "Atlantis"


def test_the_detail_page_shows_the_mp_and_party(
    browser: Chromium, site: str, refused: tuple[str, list[str]]
) -> None:
    browser.open(f"{site}/")
    [row] = browser.evaluate(_ROWS)

    browser.click("tr.constituency a")

    assert browser.evaluate("location.href") == row["href"]
    assert browser.evaluate("document.querySelector('h1').innerText") == CONSTITUENCY
    assert browser.evaluate("document.querySelector('.mp').innerText") == MP
    assert browser.evaluate("document.querySelector('.party').innerText").strip() == PARTY
    colour = browser.evaluate("getComputedStyle(document.querySelector('.swatch')).backgroundColor")
    assert colour == _css_rgb(LIB_DEM_ORANGE)
    assert browser.evaluate("document.querySelector('.synced').innerText").startswith("Checked against the UK Parliament on ")
    # The thumbnail is on members-api.parliament.uk: the browser asked for it, and the proxy refused it.
    thumbnail = browser.evaluate("document.querySelector('img').src")
    assert thumbnail.startswith("https://members-api.parliament.uk/")
    assert any("members-api.parliament.uk" in line for line in refused[1]), refused[1]


def test_the_admin_sync_now_button(browser: Chromium, site: str, tmp_path: Path) -> None:
    browser.open(f"{site}/admin/login/?next=/admin/constituencies/party/")
    browser.type("#id_username", ADMIN_USER)
    browser.type_and_submit("#id_password", ADMIN_PASSWORD)
    assert browser.evaluate("location.pathname") == "/admin/constituencies/party/"
    assert PARTY in browser.evaluate("document.querySelector('#result_list').innerText")

    browser.click("#pyck-sync-now input[type=submit]")

    assert browser.evaluate("location.pathname") == "/admin/constituencies/party/"
    message = browser.evaluate("document.querySelector('.messagelist .success').innerText")
    assert message.startswith("Sync of constituencies.Party succeeded: 0 created,"), message
    browser.screenshot(tmp_path / "admin.png", 1200, 500)


def test_the_sync_runs_admin_reads_at_1400_px(browser: Chromium, site: str, tmp_path: Path) -> None:
    browser.open(f"{site}/admin/pyck/syncrun/")
    if browser.evaluate("location.pathname") != "/admin/pyck/syncrun/":  # not logged in yet: the login page
        browser.type("#id_username", ADMIN_USER)
        browser.type_and_submit("#id_password", ADMIN_PASSWORD)
    assert browser.evaluate("location.pathname") == "/admin/pyck/syncrun/"

    browser.screenshot(tmp_path / "sync-runs.png", 1400, 800)

    # Every column, the counts included, is within the 1400 px viewport: no horizontal scroll.
    assert browser.evaluate("document.documentElement.scrollWidth") <= 1400
    right = browser.evaluate(
        "Math.max(...[...document.querySelectorAll('#result_list th, #result_list td')]"
        ".map(cell => cell.getBoundingClientRect().right))"
    )
    assert right <= 1400
    # Nor does the list scroll inside its own box (Django's `.results` scrolls sideways when the table is too wide).
    assert browser.evaluate("(box => box.scrollWidth - box.clientWidth)(document.querySelector('#changelist .results'))") <= 0
    counts = browser.evaluate("[...document.querySelectorAll('td.field-counts_text')].map(cell => cell.innerText)")
    assert counts and all(re.fullmatch(r"([+~=\u2212\u2716]\d+ ?)+|0", text) for text in counts), counts
    durations = browser.evaluate("[...document.querySelectorAll('td.field-duration_text')].map(cell => cell.innerText)")
    assert durations and all(text.endswith((" ms", " s", " min", " h")) for text in durations), durations
    # No red cross under "resumed" for the runs that were not resumed (none of the example's runs was).
    crosses = "[...document.querySelectorAll('td.field-resumed img')].map(img => getComputedStyle(img).visibility)"
    assert set(browser.evaluate(crosses)) == {"hidden"}


# --- A PNG reader (stdlib only): enough for chromium's 8-bit RGB(A) screenshots ------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def _png_colours(path: Path) -> tuple[int, int, set[tuple[int, int, int]]]:
    """Return the width, height and set of RGB colours of a non-interlaced 8-bit RGB or RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    position, idat, header = 8, bytearray(), b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, f"unsupported PNG: {header!r}"
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(bytes(idat))
    previous = bytearray(stride)
    colours: set[tuple[int, int, int]] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, channels)
        colours.update(zip(line[0::channels], line[1::channels], line[2::channels]))
        previous = line
    return width, height, colours


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    if kind == 2:
        line[:] = bytes((a + b) & 0xFF for a, b in zip(line, previous))
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
        elif kind == 4:
            upper_left = previous[i - bpp] if i >= bpp else 0
            estimate = left + up - upper_left
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
            line[i] = (line[i] + predictor) & 0xFF
        else:
            raise AssertionError(f"unknown PNG filter type {kind}")
