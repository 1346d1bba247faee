"""The README's browser screenshot: the page served by ``daedalus.web``, headless chromium, the autopilot playing
level code 7 in braid mode for two seconds.

    python scripts/web_screenshot.py docs/figures/web.png
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from web_browser import chromium, served, wait_for  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/figures/web.png")
    with served() as url, chromium() as driver:
        driver.get(f"{url}?code=7&mode=braid&autopilot=1")
        wait_for(driver, "return window.daedalus.frames >= 120")
        time.sleep(1.0)
        driver.save_screenshot(str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
