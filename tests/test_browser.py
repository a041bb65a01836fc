"""End to end in a real headless browser: upload a film on the page, see the answer.

Debian's ``chromium`` and ``chromium-driver`` (installed by ``.ci/run``), driven by
Selenium with the driver's path given, so nothing is downloaded. Outside CI the test
is skipped when they are missing; in CI (``CI`` set) a missing browser fails it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from xrayfeat.sample_data import sample_path

FILM = sorted((sample_path() / "test" / "PNEUMONIA").glob("*.jpeg"))[0]


def _browser_paths() -> tuple[str, str]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", driver)) if path is None]
    if missing:
        message = f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return chromium, driver


@pytest.fixture
def server():
    pytest.importorskip("flask")
    from xrayfeat.web import serve

    started: list = []
    ready = threading.Event()
    thread = threading.Thread(target=serve, kwargs=dict(
        port=0, log=lambda line: None, ready=lambda s: (started.append(s), ready.set())), daemon=True)
    thread.start()
    assert ready.wait(120), "the server did not start"
    yield f"http://127.0.0.1:{started[0].server_port}/"
    started[0].shutdown()
    thread.join(10)


def test_upload_a_film_and_see_probabilities_and_heatmap(server, capsys):
    chromium, driver_path = _browser_paths()
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,900"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    try:
        browser.set_page_load_timeout(30)
        browser.get(server)
        assert "Demonstration model" in browser.find_element(By.ID, "note").text
        browser.find_element(By.ID, "files").send_keys(str(FILM))
        wait = WebDriverWait(browser, 60)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".card .decision")
                   or b.find_elements(By.CSS_SELECTOR, ".card .error"))
        assert not browser.find_elements(By.CSS_SELECTOR, ".card .error")
        card = browser.find_element(By.CSS_SELECTOR, ".card")
        assert card.find_element(By.TAG_NAME, "h2").text == FILM.name
        shown = {row.get_attribute("data-class"): float(row.find_element(By.CSS_SELECTOR, ".num").text.rstrip(" %"))
                 for row in card.find_elements(By.CSS_SELECTOR, ".prob")}
        assert set(shown) == {"NORMAL", "PNEUMONIA"} and sum(shown.values()) == pytest.approx(100, abs=0.15)
        assert card.find_element(By.CSS_SELECTOR, ".decision").text.startswith("Decision: ")
        for cls in ("film", "heatmap"):  # both pictures decoded and laid out
            img = card.find_element(By.CSS_SELECTOR, f"img.{cls}")
            wait.until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
            assert img.size["width"] > 100
        artefacts = Path(os.environ.get("XRAYFEAT_ARTEFACTS", Path(tempfile.gettempdir()) / "xrayfeat-artefacts"))
        artefacts.mkdir(parents=True, exist_ok=True)
        shot = artefacts / "serve-upload.png"
        assert browser.save_screenshot(str(shot))
        with capsys.disabled():
            print(f"\nbrowser screenshot: {shot}")
    finally:
        browser.quit()
