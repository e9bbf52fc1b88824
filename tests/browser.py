"""Real-browser tests: Playwright for Python driving Debian's ``chromium`` package.

Playwright never downloads a browser here: the tests launch the binary Debian's package
installs (``/usr/bin/chromium``; ``AIRKUBE_CHROMIUM`` names another), headless. Playwright
is pinned in pyproject's dev extra to the release whose bundled Chromium has the same
major version as Debian's, since its protocol client is built for that Chromium; the
``chromium`` fixture checks the two majors agree and fails with what to change when they
do not. Without the browser the tests are skipped, unless ``CI`` is set: CI must test in
a real browser (``.ci/run`` installs the package).

Use it from a conftest.py (pytest finds fixtures in the conftest's namespace)::

    from browser import chromium, page, page_errors  # noqa: F401

``chromium`` is one browser per test module, not per session: while Playwright's sync
API runs, its event loop occupies the thread, so ``asyncio.run`` in any later test of the
same process would fail. ``page`` is a fresh context (cookies, storage) and page per
test; an uncaught JavaScript error on it fails the test (``page_errors``).
``screenshot(page, name)`` writes ``build/screenshots/<name>.png`` (``AIRKUBE_SCREENSHOTS``
names another directory), the images the README shows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import playwright
import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("AIRKUBE_SCREENSHOTS") or ROOT / "build" / "screenshots")
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000
"""How long an action or an expectation waits; pages here are local, so seconds is slow."""


def chromium_path() -> Path:
    return Path(os.environ.get("AIRKUBE_CHROMIUM") or DEFAULT_CHROMIUM)


def expected_major() -> int:
    """The Chromium major version the installed Playwright release was built for.

    Read from the browsers.json its driver ships (the list ``playwright install`` would
    download from, which nothing here runs).
    """
    manifest = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    browsers = json.loads(manifest.read_text())["browsers"]
    version = next(b["browserVersion"] for b in browsers if b["name"] == "chromium")
    return int(version.split(".")[0])


def installed_version(binary: Path) -> str:
    """The browser's version, ``156.0.8078.108``, from ``chromium --version``."""
    proc = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    found = re.search(r"(\d+)\.\d+\.\d+\.\d+", proc.stdout)
    if proc.returncode != 0 or found is None:
        pytest.fail(
            f"{binary} --version did not print a version (exit {proc.returncode}): "
            f"{(proc.stdout + proc.stderr).strip()[-300:]}",
            pytrace=False,
        )
    return found.group(0)


def version_mismatch(browser_version: str, playwright_major: int) -> str | None:
    """Why this browser does not suit this Playwright release, or None when it does."""
    major = int(browser_version.split(".")[0])
    if major == playwright_major:
        return None
    pinned = f"playwright {version('playwright')} (pyproject's dev extra)"
    if major < playwright_major:
        fix = "upgrade the package: apt-get install --only-upgrade chromium"
    else:
        fix = (
            f"pin the Playwright release whose bundled Chromium is {major} "
            "(its release notes list 'Chromium NNN') in pyproject's dev extra"
        )
    return (
        f"Debian's chromium is {browser_version} but {pinned} drives Chromium "
        f"{playwright_major}: {fix}"
    )


def _require_browser() -> Path:
    binary = chromium_path()
    if not os.access(binary, os.X_OK):
        missing = f"{binary} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI runs the browser tests, but {missing}", pytrace=False)
        pytest.skip(f"browser tests skipped: {missing}")
    mismatch = version_mismatch(installed_version(binary), expected_major())
    if mismatch:
        pytest.fail(mismatch, pytrace=False)
    return binary


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, launched by Playwright for one test module."""
    binary = _require_browser()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=binary,
            headless=True,
            # Chromium refuses to sandbox its renderers when run as root ("Chromium
            # sandboxing failed!"), as in this VM and CI: there it runs with
            # --no-sandbox, the pages being the tests' own on 127.0.0.1. As an ordinary
            # user the sandbox stays on.
            chromium_sandbox=os.geteuid() != 0,
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """The uncaught JavaScript errors of the test's ``page``, in order.

    ``page`` fails the test when any is left at its end; a test that provokes one on
    purpose checks and clears the list.
    """
    return []


@pytest.fixture
def page(chromium: Browser, page_errors: list[str]) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies or storage from other tests)."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        new = context.new_page()
        new.on("pageerror", lambda error: page_errors.append(f"{error.name}: {error.message}"))
        yield new
    finally:
        context.close()
    if page_errors:
        pytest.fail(f"uncaught JavaScript error(s) on the page: {page_errors}", pytrace=False)


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as ``<SCREENSHOTS>/<name>.png`` and return its path."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise ValueError(f"screenshot name {name!r}: use lower-case letters, digits, . _ -")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def assert_shown_as_text(element: Locator, text: str) -> None:
    """The element shows ``text`` verbatim and holds no element parsed from it.

    For strings with markup in them (log lines, user input): a page that assigned
    innerHTML would show something else and grow child elements.
    """
    shown = element.evaluate("e => e.textContent")
    children = element.evaluate("e => e.childElementCount")
    assert shown == text, f"shown {shown!r}, expected {text!r}"
    assert children == 0, f"{children} element(s) parsed from the text {text!r}"


def mark_loaded(page: Page) -> None:
    """A value that a reload would lose: :func:`assert_not_reloaded` checks it is still
    there (a page that follows the cluster live must not need a reload)."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
