"""The review queue in a real headless Chromium (Debian's), driven by Playwright: fix a
suspect label from the queue; the grid, the "reviewed N of M" counter and the history update.

``PICTEXT_E2E_SCREENSHOT_DIR`` names a folder for pictures of the queue and the history.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_toys import audited_bundle
from live_page import CHROMIUM_ARGS, chromium, serve

pytestmark = pytest.mark.slow
TOKEN = "page-token"


@pytest.fixture(scope="module")
def server(toy_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from service_toys import toy_config, toy_factory

    from pictext.service.app import create_app

    bundle = audited_bundle(toy_root, tmp_path_factory.mktemp("review"))
    app = create_app(bundle, toy_config(), encoder_factory=toy_factory,
                     cache_dir=toy_root / "cache", token=TOKEN)  # fmt: skip
    yield from serve(app)


def test_fix_a_suspect_label_from_the_review_queue(server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    shots = os.environ.get("PICTEXT_E2E_SCREENSHOT_DIR")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(server)
        page.wait_for_selector("#rv-grid .rv-card")
        page.wait_for_function("document.querySelector('#rv-counter').textContent.includes('of')")
        counter = page.inner_text("#rv-counter")
        assert counter.startswith("reviewed 0 of ")
        first = page.get_attribute("#rv-grid .rv-card >> nth=0", "data-id")
        page.wait_for_function(f"document.querySelector('#rv-id').textContent === {first!r}")
        page.fill("#rv-token", TOKEN)
        page.fill("#rv-user", "tester")
        page.fill("#rv-label", "purple")
        page.click("#rv-relabel")
        page.wait_for_function("document.querySelector('#rv-status').textContent === 'saved'")
        page.evaluate("document.activeElement.blur()")  # keys act on the queue, not the box
        page.keyboard.press("r")
        page.wait_for_function(
            "document.querySelector('#rv-counter').textContent.startsWith('reviewed 1 of')"
        )
        card = page.locator(f'#rv-grid .rv-card[data-id="{first}"]')
        assert card.locator(".rv-label").inner_text() == "purple"
        assert "rv-done" in (card.get_attribute("class") or "")
        history = page.inner_text("#rv-history")
        assert "tester: label" in history
        assert '"purple"' in history
        assert "reviewed false → true" in history
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.locator("#review").screenshot(path=f"{shots}/review-queue.png")
        page.keyboard.press("u")  # undo the last edit: reviewed goes back
        page.wait_for_function(
            "document.querySelector('#rv-counter').textContent.startsWith('reviewed 0 of')"
        )
        assert "undo" in page.inner_text("#rv-history")
        if shots:
            page.locator(".rv-item").screenshot(path=f"{shots}/review-history.png")
        page.keyboard.press("j")
        page.wait_for_function(f"document.querySelector('#rv-id').textContent !== {first!r}")
        browser.close()
