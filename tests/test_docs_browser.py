"""The built documentation site in a real browser (Debian's Chromium, headless): the home page
and the API page render, and every link from them to the site itself reaches a file that exists
and, where it names one, an anchor on that page.

    pip install -e '.[docs]' && sphinx-build -W --keep-going -b html docs docs/_build/html
    python -m pytest -m browser tests/test_docs_browser.py

Skipped where the site has not been built (.ci/run builds it first), or where Chromium is
missing (the browser fixture, in conftest.py).
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import nnlm
import nnlm.data
import nnlm.models
from helpers import ROOT

pytestmark = pytest.mark.browser

SITE = ROOT / "docs" / "_build" / "html"


@pytest.fixture
def site():
    if not (SITE / "index.html").exists():
        pytest.skip(f"{SITE} is not built: pip install -e '.[docs]' && sphinx-build -W --keep-going "
                    "-b html docs docs/_build/html")
    return SITE


def open_page(browser, page: Path) -> None:
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"


def same_site_links(browser) -> list[tuple[Path, str]]:
    """(file, anchor) of every link on the page into the built site."""
    hrefs = browser.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.href)")
    links = []
    for href in hrefs:
        url = urlsplit(href)
        if url.scheme == "file":
            links.append((Path(unquote(url.path)), unquote(url.fragment)))
    return links


def assert_links_resolve(browser) -> int:
    links = same_site_links(browser)
    for path, anchor in links:
        assert path.is_file() and SITE in path.parents, f"a link to {path}, which is not in the site"
        if anchor and path.suffix == ".html":
            html = path.read_text(encoding="utf-8")
            assert re.search(rf'\bid="{re.escape(anchor)}"', html), f"{path.name} has no #{anchor}"
    return len(links)


def test_the_home_page_renders_and_its_links_resolve(browser, site):
    open_page(browser, site / "index.html")
    assert browser.find_element("css selector", "article h1").text.startswith("nnlm")
    stylesheets = browser.execute_script("return document.styleSheets.length")
    assert stylesheets > 0  # the theme's CSS loaded
    navigation = browser.find_elements("css selector", ".sidebar-tree a.reference")
    assert len(navigation) >= 15  # every page, from the toctrees
    assert assert_links_resolve(browser) >= 15


def test_the_api_page_renders_every_public_name_and_its_links_resolve(browser, site):
    open_page(browser, site / "api.html")
    assert browser.find_element("css selector", "article h1").text.startswith("Python API")
    entries = set(browser.execute_script("return [...document.querySelectorAll('dt[id]')].map(e => e.id)"))
    for module in (nnlm, nnlm.data, nnlm.models):
        missing = [name for name in module.__all__ if f"{module.__name__}.{name}" not in entries]
        assert not missing, f"the API page has no entry for {module.__name__}: {missing}"
    signature = browser.find_element("css selector", 'dt[id="nnlm.train"]')
    assert signature.is_displayed() and "train" in signature.text
    assert assert_links_resolve(browser) >= len(nnlm.__all__)
