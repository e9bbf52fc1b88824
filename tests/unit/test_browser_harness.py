"""The real-browser harness (tests/browser.py): Debian's chromium, driven by Playwright,
opens a page served from 127.0.0.1, clicks, reads text, takes a screenshot; markup in
fetched text stays text when the page sets it through textContent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page, expect

from browser import (
    assert_shown_as_text,
    chromium_path,
    expected_major,
    installed_version,
    screenshot,
    version_mismatch,
)

LOG_LINES = [
    "INFO starting task extract",
    '<img src=x onerror="window.pwned = true"><b>not bold</b> & <script>window.pwned = true'
    "</script>",
    "INFO done",
]

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>airkube browser harness</title>
<style>
  body { font-family: sans-serif; margin: 2rem; }
  #log { font-family: monospace; white-space: pre; border: 1px solid #bbb;
         background: #f4f4f4; padding: .5rem; min-height: 4rem; }
</style>
</head>
<body>
<h1>Browser harness</h1>
<button id="load">Load the log</button>
<p id="status">Not loaded</p>
<pre id="log"></pre>
<div id="scratch"></div>
<script>
document.getElementById("load").addEventListener("click", async () => {
  const lines = await (await fetch("/log.json")).json();
  document.getElementById("log").textContent = lines.join("\\n");
  document.getElementById("status").textContent = `Loaded ${lines.length} lines`;
});
</script>
</body>
</html>
"""

FILES = {
    "/": ("text/html; charset=utf-8", PAGE.encode()),
    "/log.json": ("application/json", json.dumps(LOG_LINES).encode()),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = FILES.get(self.path)
        if found is None:
            self.send_error(404)
            return
        content_type, body = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The base URL of a small site served from a thread on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_playwright_drives_debians_chromium(chromium: Browser) -> None:
    assert chromium.version == installed_version(chromium_path())
    assert int(chromium.version.split(".")[0]) == expected_major()


def test_page_opens_clicks_and_screenshots(page: Page, site: str) -> None:
    page.goto(site + "/")
    expect(page).to_have_title("airkube browser harness")
    expect(page.locator("#status")).to_have_text("Not loaded")

    page.get_by_role("button", name="Load the log").click()

    expect(page.locator("#status")).to_have_text(f"Loaded {len(LOG_LINES)} lines")
    expect(page.locator("#log")).to_contain_text("INFO done")
    path = screenshot(page, "harness")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert path.stat().st_size > 1000


def test_markup_set_through_text_content_shows_as_text(page: Page, site: str) -> None:
    page.goto(site + "/")
    page.get_by_role("button", name="Load the log").click()
    log = page.locator("#log")
    expect(log).to_contain_text("INFO done")

    assert_shown_as_text(log, "\n".join(LOG_LINES))
    assert page.locator("#log img, #log b, #log script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert "<b>not bold</b>" in log.inner_text()


def test_assert_shown_as_text_catches_markup_parsed_as_html(page: Page, site: str) -> None:
    page.goto(site + "/")
    scratch = page.locator("#scratch")
    scratch.evaluate("(e, s) => { e.innerHTML = s }", "<b>not bold</b>")

    with pytest.raises(AssertionError, match="shown 'not bold'"):
        assert_shown_as_text(scratch, "<b>not bold</b>")


def test_uncaught_javascript_errors_are_recorded(
    page: Page, site: str, page_errors: list[str]
) -> None:
    page.goto(site + "/")
    assert page_errors == []
    with page.expect_event("pageerror"):
        page.evaluate("() => { setTimeout(() => { throw new TypeError('boom') }, 0) }")
    assert page_errors == ["TypeError: boom"]
    page_errors.clear()  # provoked on purpose: the fixture would fail the test otherwise


def test_version_mismatch_says_what_to_change() -> None:
    assert version_mismatch("156.0.8078.108", 156) is None
    older = version_mismatch("150.0.7871.100", 156)
    assert older is not None
    assert "150.0.7871.100" in older
    assert "apt-get install --only-upgrade chromium" in older
    newer = version_mismatch("157.0.1.2", 156)
    assert newer is not None
    assert "bundled Chromium is 157" in newer
    assert "pyproject" in newer
