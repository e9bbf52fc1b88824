"""Fixtures shared by the unit tests: the real browser's (tests/browser.py)."""

from browser import chromium, page, page_errors  # noqa: F401  (pytest finds fixtures here by name)
