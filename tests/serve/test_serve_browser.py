"""nnlm serve in a real browser: Debian's Chromium, headless, driven through Selenium.

    apt-get install -y chromium chromium-driver && python -m pytest -m browser

Skipped where /usr/bin/chromium, /usr/bin/chromedriver or selenium is missing (the browser
fixture, in conftest.py). Saves a screenshot of the page to benchmarks/results/serve_page.png.
"""

import json
import subprocess
import sys
import urllib.request

import pytest

import nnlm
from helpers import FIXTURES, ROOT, TINY_SETTINGS

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "benchmarks" / "results" / "serve_page.png"
WAIT = 60  # seconds for anything on the page (a loaded CI machine draws pictures slowly)


@pytest.fixture
def server(browser, tmp_path):
    """`nnlm serve` on a tiny character run, on a free port: its URL."""
    run = tmp_path / "names"
    nnlm.train(str(FIXTURES / "names300.txt"), str(run), progress=False, **TINY_SETTINGS)
    proc = subprocess.Popen([sys.executable, "-m", "nnlm", "serve", str(run), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, f"nnlm serve printed {line!r}"
        yield line.split()[line.split().index("at") + 1]
    finally:
        proc.terminate()
        proc.wait(30)


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        return json.loads(response.read())


def fill(driver, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def test_the_page_samples_scores_and_shows_the_run(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver, wait = browser, WebDriverWait(browser, WAIT)
    driver.get(server)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    assert "names" in driver.find_element(By.ID, "run").text

    fill(driver, "n", "7")
    fill(driver, "seed", "3")
    driver.find_element(By.ID, "sample-btn").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples tbody tr.sample")) == 7)
    rows = driver.find_elements(By.CSS_SELECTOR, "#samples tbody tr.sample")
    texts = [r.find_element(By.CSS_SELECTOR, "td.text").text for r in rows]
    logprobs = [float(r.find_element(By.CSS_SELECTOR, "td.logprob").text) for r in rows]
    marks = [r.find_element(By.CSS_SELECTOR, ".mark").text for r in rows]
    api = post(server + "api/sample", {"run": "names", "n": 7, "seed": 3, "temperature": 0.8})["samples"]
    assert texts == [s["text"] or "(empty)" for s in api]  # the page asked what the API answers
    assert logprobs == pytest.approx([s["logprob"] for s in api], abs=1e-3) and max(logprobs) < 0
    assert set(marks) <= {"new", "in train", "in dev", "in test"}

    fill(driver, "score-text", "emma")
    driver.find_element(By.ID, "score-btn").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#score-strip .tok")) == 5)
    cells = driver.find_elements(By.CSS_SELECTOR, "#score-strip .tok")
    assert [c.find_element(By.TAG_NAME, "b").text for c in cells] == ["e", "m", "m", "a", "<e>"]
    colours = [c.value_of_css_property("background-color") for c in cells]
    assert all(c.startswith("rgb") and c != "rgba(0, 0, 0, 0)" for c in colours)
    scored = post(server + "api/score", {"run": "names", "text": "emma"})
    loss_text = driver.find_element(By.ID, "score-loss").text
    assert f"loss {scored['loss']:.4f} nats/token" in loss_text

    card = driver.find_element(By.ID, "card").text
    assert "dev loss" in card and "mlp" in driver.find_element(By.ID, "run-summary").text
    pictures = "loss_curve", "embedding_map"

    def width(d, picture) -> int:
        return d.execute_script(f"return document.getElementById('{picture}').naturalWidth")

    # each picture shows, or its caption says why not ("embedding map: no ... picture: ...")
    wait.until(lambda d: all(width(d, p) > 0 or ":" in d.find_element(By.ID, f"{p}-caption").text
                             for p in pictures))
    drawn = [p for p in pictures if width(driver, p) > 0]
    if _has_matplotlib():
        assert drawn == list(pictures)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # e.g. anything the Content-Security-Policy blocked

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(1000, min(height + 120, 3000)))
    assert driver.save_screenshot(str(SCREENSHOT))
    print(f"\nbrowser: {len(rows)} sample rows {list(zip(texts, marks, logprobs, strict=True))}; "
          f"{len(cells)} token cells {colours}; {loss_text!r}; pictures drawn: {drawn}; "
          f"screenshot {SCREENSHOT}")


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
