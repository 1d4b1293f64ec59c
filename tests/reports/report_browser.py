"""Headless Chromium through Selenium, as a reader would open the report (Debian's browser).

Only Debian's ``chromium`` and ``chromium-driver`` are used (installed by ``.ci/setup``): no
browser is downloaded. Under ``CI=true`` a missing browser fails the test; locally it skips with
the command that installs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver (or: bash .ci/setup)"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if not missing:
        return
    message = f"headless browser test needs {', '.join(missing)}: {INSTALL}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def start_chromium(user_data_dir: Path):
    """A fresh headless Chromium with its own profile, logging the page's console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


@dataclass
class PageCheck:
    """What a reader would hit on one page: console errors, broken images, broken links."""

    url: str
    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    local_pages: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return (
            [f"console: {e}" for e in self.console_errors]
            + [f"broken image: {i}" for i in self.broken_images]
            + [f"broken link: {link}" for link in self.broken_links]
        )


IMAGES_JS = """
return Array.from(document.images).map(img => ({
    src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0
}));
"""
LINKS_JS = "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);"
IDS_JS = "return Array.from(document.querySelectorAll('[id]')).map(e => e.id);"


def check_page(driver, page: Path, screenshot: Path | None = None) -> PageCheck:
    """Open ``page`` and report console errors, images that did not load and dead links.

    Links to ``#anchor`` must name an element of the page, ``file:`` links an existing file
    (collected in ``local_pages`` to be opened in turn); hash routes of a single-page app
    (``#!/...``) and links to other sites are not followed (the machine is offline).
    """
    url = page.resolve().as_uri()
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    check = PageCheck(url=url, title=driver.title)
    check.console_errors = [
        entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
    ]
    check.broken_images = [
        image["src"] for image in driver.execute_script(IMAGES_JS) if not image["ok"]
    ]
    ids = set(driver.execute_script(IDS_JS))
    for href in driver.execute_script(LINKS_JS):
        parsed = urlparse(href)
        if parsed.scheme == "file":
            target = Path(unquote(parsed.path))
            same_page = target == page.resolve() or target == Path(urlparse(url).path)
            if same_page and parsed.fragment and not parsed.fragment.startswith("!"):
                if parsed.fragment not in ids:
                    check.broken_links.append(href)
            elif not same_page:
                if target.exists():
                    check.local_pages.append(target)
                else:
                    check.broken_links.append(href)
        elif parsed.scheme in ("", "javascript", "data", "mailto"):
            continue
    if screenshot is not None:
        save_full_page(driver, screenshot)
    return check


def save_full_page(driver, path: Path) -> Path:
    """A screenshot of the whole page, not only the window."""
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);"
    )
    driver.set_window_size(1280, min(max(int(height) + 100, 900), 16000))
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path
