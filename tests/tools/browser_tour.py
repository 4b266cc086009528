"""Drive headless Chromium through the mlform UI; run in the browser virtualenv (see browser.py), not by pytest.

Usage: browser_tour.py BASE_URL OUT_DIR CHROMIUM CHROMEDRIVER. Prints JSON: per page its title, the pixel
variance of its screenshot, the browser console's errors and whether an injected payload ran.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageStat
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

PAGES = ("/", "/runs", "/models", "/plans", "/monitoring", "/audit")


def _driver(chromium: str, chromedriver: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(chromedriver))


def _seen(driver: webdriver.Chrome, name: str, out: Path) -> dict[str, Any]:
    shot = out / f"{name}.png"
    driver.save_screenshot(str(shot))
    with Image.open(shot) as image:
        variance = sum(ImageStat.Stat(image.convert("L")).var)
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    return {"url": driver.current_url, "title": driver.title, "variance": variance, "errors": errors,
            "pwned": driver.execute_script("return window.__pwned === 1"), "screenshot": str(shot)}


def main(base: str, out: Path, chromium: str, chromedriver: str) -> dict[str, Any]:
    """Visit every page, then compare two runs by ticking their boxes and pressing the button."""
    out.mkdir(parents=True, exist_ok=True)
    driver = _driver(chromium, chromedriver)
    seen: dict[str, Any] = {}
    try:
        for page in PAGES:
            driver.get(base + page)
            seen[page] = _seen(driver, page.strip("/") or "pipelines", out)
        driver.get(base + "/monitoring")
        driver.find_element(By.LINK_TEXT, "report").click()
        seen["report"] = _seen(driver, "report", out)
        driver.get(base + "/models")
        driver.find_element(By.LINK_TEXT, "card").click()
        seen["card"] = _seen(driver, "card", out)
        driver.get(base + "/runs")
        rows = len(driver.find_elements(By.CSS_SELECTOR, "table.runs tbody tr"))
        driver.find_element(By.CSS_SELECTOR, "form.filters input[name=q]").send_keys("no-such-run")
        time.sleep(1.5)  # the script waits 250 ms after typing, then asks /api/runs
        seen["filter"] = {"before": rows, "after": len(driver.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")),
                          "errors": [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]}
        driver.get(base + "/runs")
        button = driver.find_element(By.ID, "compare-button")
        seen["compare_enabled_before"] = button.is_enabled()
        for box in driver.find_elements(By.CSS_SELECTOR, "input[name=run]")[:2]:
            box.click()
        button.click()
        seen["compare"] = _seen(driver, "compare", out)
        seen["compare"]["differs"] = len(driver.find_elements(By.CSS_SELECTOR, "tr.differs"))
        seen["compare"]["charts"] = len(driver.find_elements(By.CSS_SELECTOR, "svg.chart rect"))
    finally:
        driver.quit()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4])))
