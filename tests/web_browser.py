"""A real browser for the web page's tests and benchmark: Debian's chromium + chromium-driver through selenium, the
page served by ``daedalus.web`` on 127.0.0.1 (a free port), onnxruntime-web installed by ``npm ci`` when missing."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

WEB = Path(__file__).resolve().parents[1] / "web"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=900,720")


def chromium_paths() -> tuple[str | None, str | None]:
    return shutil.which("chromium"), shutil.which("chromedriver")


def ensure_ort() -> None:
    """``npm ci`` in web/ when onnxruntime-web is not installed there (the pinned version of package-lock.json)."""
    if (WEB / "node_modules" / "onnxruntime-web" / "dist" / "ort.wasm.min.mjs").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("web/node_modules is missing and npm is not installed (apt-get install npm)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def served(model=None, critic=None):
    """The page on http://127.0.0.1:PORT/ for the duration (a daemon thread), serving ``model`` (default: the
    shipped decoder)."""
    from daedalus.web import make_server

    ensure_ort()
    server = make_server(port=0, model=model, critic=critic)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def chromium():
    """A headless chromium with a fresh profile, its console log kept (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium_paths()
    profile = tempfile.mkdtemp(prefix="daedalus-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_script_timeout(300)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, script: str, timeout: float = 60.0, poll: float = 0.05):
    """Run ``script`` (returns a value) until it is truthy; raise TimeoutError with the page's state otherwise."""
    end = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > end:
            state = driver.execute_script("return [document.body.dataset.state, window.daedalus && "
                                          "window.daedalus.error]")
            raise TimeoutError(f"page never satisfied {script!r} in {timeout} s (state, error: {state})")
        time.sleep(poll)


def severe(driver) -> list[str]:
    """The console messages of level SEVERE (errors) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
