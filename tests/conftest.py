import random
from pathlib import Path

import pytest

from nnlm.data.text import bundled_names_path, read_items


@pytest.fixture(scope="session")
def names():
    return read_items(bundled_names_path())


@pytest.fixture
def tiny_file(tmp_path, names):
    """300 real names: enough for a split, small enough to train in a second."""
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(names[:300]) + "\n")
    return path


@pytest.fixture
def sentences(tmp_path, names):
    """600 sentences of real names in a few patterns, with case and punctuation."""
    rng = random.Random(0)
    pool = names[:40]
    patterns = ["{} met {} .", "Did {} see {} ?", "{} , {} and {} sang !", "{} ran ."]
    lines = []
    for _ in range(600):
        p = rng.choice(patterns)
        lines.append(p.format(*(rng.choice(pool).capitalize() for _ in range(p.count("{}")))))
    path = tmp_path / "words.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--window-size=1400,1400"]


@pytest.fixture
def browser(tmp_path, monkeypatch):
    """Debian's Chromium, headless, driven through Selenium (the browser tests'); skips where
    /usr/bin/chromium, /usr/bin/chromedriver or selenium is missing."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.skip(f"{path} is missing (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not try to download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()
