"""The built documentation works opened from disk (`site/index.html` in a browser, over file://).

Builds the site with mkdocs (skipped when mkdocs is not installed: it comes with the `docs` extra) and follows
every link and asset of every page: each must name a file. A link to a directory would open a directory listing
from disk (what mkdocs' `use_directory_urls` makes by default: `getting-started/` for `getting-started.md`).
"""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("mkdocs", reason="the docs extra (mkdocs) is not installed")

ROOT = Path(__file__).resolve().parent.parent


class _Links(HTMLParser):
    """The `href` and `src` values of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value for name, value in attrs if name in ("href", "src") and value]


def _local_target(page: Path, link: str) -> Path | None:
    """The file a link of `page` opens from disk, or `None` for a link elsewhere or within the page."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(directory)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return directory


def test_every_link_of_the_built_site_opens_a_file(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert site / "index.html" in pages and len(pages) > 10
    pages.remove(site / "404.html")  # a web server's answer for a missing page: its links start from the root
    broken = []
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for link in parser.links:
            target = _local_target(page, link)
            if target is not None and not target.is_file():
                broken.append(f"{page.relative_to(site)}: {link} ({'a directory' if target.is_dir() else 'missing'})")
    assert not broken, f"{len(broken)} links open no file from disk, e.g.:\n" + "\n".join(broken[:20])
