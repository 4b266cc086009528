"""Headless Chromium driven by Selenium, for tests of web pages: Debian's `chromium` and `chromium-driver`
installed with apt-get when missing, Selenium and Pillow in a cached virtualenv of their own.

`tour(base, out)` runs `browser_tour.py` in that virtualenv against a running UI and returns what it saw.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from . import HERE, Venv, run

__all__ = ["BROWSER", "CHROMIUM", "CHROMEDRIVER", "tour", "unavailable"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BROWSER = Venv("browser", ["selenium==4.40.0", "pillow==12.3.0"])


def unavailable() -> str | None:
    """Why no browser can run here (a reason to skip with), or None."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and shutil.which("apt-get") is None:
        return "chromium is missing and there is no apt-get to install it"
    return None


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]):
        done = run(argv, env=env, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def tour(base: str, out: Path) -> dict[str, Any]:
    """Visit every page of the UI at `base`, compare two runs, screenshot each page into `out`; the findings."""
    _ensure_chromium()
    python = BROWSER.bin("python")
    done = run([python, HERE / "browser_tour.py", base, out, CHROMIUM, CHROMEDRIVER], timeout=300,
               env={**os.environ, "SE_OFFLINE": "true"})
    if done.returncode != 0:
        raise RuntimeError(f"the browser tour failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result
