"""Fixtures shared by the test files."""
import pytest

from pathlib import Path

from helpers import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="session")
def chromium_installed():
    "Fail (a skipped browser test would hide a broken page) when the set-up's Chromium is missing."
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run bash tools/install_system.sh (the README's set-up)")


@pytest.fixture(scope="module")
def browser(chromium_installed):
    "Debian's Chromium, headless, driven by Playwright; closed after the module's tests."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
