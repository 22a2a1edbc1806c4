"""Render an HTML file in headless Chromium and save a PNG screenshot: does the report show in a real browser?

    lenet-parity screenshot reports/report.html reports/report.png [--height 17000]
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# No network, no first-run work, no background updates: the page must render from the file alone.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(html: Path, png: Path, *, width: int = 1400, height: int = 4000, timeout: float = 120) -> Path:
    """Screenshot ``html`` at width x height pixels into ``png``; raises RuntimeError when no browser is found."""
    browser = find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found (Debian: apt-get install -y chromium)")
    html, png = Path(html).resolve(), Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                        f"--window-size={width},{height}", html.as_uri()],
                       check=True, capture_output=True, timeout=timeout)
    if not png.exists():
        raise RuntimeError(f"{browser} wrote no screenshot for {html}")
    return png
