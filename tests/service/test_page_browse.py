"""The collection browser in a real headless Chromium (Debian's), driven by Playwright:
browse pages, filter by label, sort by the audit's scores, search by text with a chosen k,
pick items and get recommendations, select a box on the map, open an item's audit flags.

``PICTEXT_E2E_SCREENSHOT_DIR`` keeps the screenshots (default: the test's temp folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_toys import audited_bundle
from live_page import CHROMIUM_ARGS, chromium, serve
from service_toys import toy_config, toy_factory

pytestmark = pytest.mark.slow
pytest.importorskip("cleanlab")
pytest.importorskip("imagehash")


@pytest.fixture(scope="module")
def server(toy_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from pictext.service.app import create_app

    bundle = audited_bundle(toy_root, tmp_path_factory.mktemp("audited-page"))
    app = create_app(
        bundle, toy_config(), encoder_factory=toy_factory, cache_dir=toy_root / "cache"
    )
    yield from serve(app)


def _grid(page, sel: str = "#browse-grid") -> list[str]:
    return page.eval_on_selector_all(f"{sel} .card", "els => els.map(e => e.dataset.id)")


def test_browse_filter_sort_search_recommend_and_select(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    shots = Path(os.environ.get("PICTEXT_E2E_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/")
        page.wait_for_selector("#browse-grid .card")
        assert len(_grid(page)) == 24
        assert "24 items" in page.text_content("#browse-count")

        # filter by label: only red cards, and the count follows
        page.select_option("#f-label", "red")
        page.wait_for_function(
            "document.querySelector('#browse-count').textContent.includes('8 items')"
        )
        labels = page.eval_on_selector_all(
            "#browse-grid .card-label", "els => els.map(e => e.textContent)"
        )
        assert set(labels) == {"red"}
        page.select_option("#f-text", "no")
        page.wait_for_selector("#browse-grid >> text=no item matches")
        page.select_option("#f-text", "")
        page.select_option("#f-label", "")
        page.wait_for_function(
            "document.querySelector('#browse-count').textContent.includes('24 items')"
        )

        # sort by the audit's error score: scores shown, highest first
        page.select_option("#f-sort", "error")
        page.wait_for_selector("#browse-grid .score")
        scores = page.eval_on_selector_all(
            "#browse-grid .score", "els => els.map(e => parseFloat(e.textContent.split('= ')[1]))"
        )
        assert len(scores) == 24
        assert scores == sorted(scores, reverse=True)

        # text search with k = 3, then the grid sorted by closeness to it
        page.fill("#k", "3")
        page.fill("#q", "a blue picture")
        page.click("#search-btn")
        page.wait_for_selector("#search-grid .card")
        assert len(_grid(page, "#search-grid")) == 3
        page.select_option("#f-sort", "similarity")
        page.wait_for_function(
            "document.querySelector('#browse-grid .score')?.textContent.startsWith('d =')"
        )
        dists = page.eval_on_selector_all(
            "#browse-grid .score", "els => els.map(e => parseFloat(e.textContent.split('= ')[1]))"
        )
        assert dists == sorted(dists)

        # pick two items and ask for recommendations
        page.click("#browse-grid .card:nth-child(1) .pick")
        page.click("#browse-grid .card:nth-child(2) .pick")
        assert page.text_content("#rec-btn") == "Recommend from 2 picked"
        page.click("#rec-btn")
        page.wait_for_selector("#rec-grid .card")
        assert len(_grid(page, "#rec-grid")) == 3
        page.screenshot(path=str(shots / "browser.png"), full_page=True)

        # a box drawn over the whole map selects every point; the grid shows the selection
        page.select_option("#f-sort", "dataset")
        page.eval_on_selector("#map", "c => c.scrollIntoView()")
        box = page.eval_on_selector(
            "#map",
            "c => { const r = c.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }",
        )
        page.mouse.move(box[0] + 2, box[1] + 2)
        page.mouse.down()
        page.mouse.move(box[0] + box[2] / 2, box[1] + box[3] / 2, steps=5)
        page.mouse.move(box[0] + box[2] - 2, box[1] + box[3] - 2, steps=5)
        page.mouse.up()
        page.wait_for_selector("#selection-note:not([hidden])")
        assert page.evaluate("browser.selection.box.split(',').length") == 4  # sent as geometry
        assert page.evaluate("browser.selection.shown.length") == 24
        page.wait_for_function(
            "document.querySelector('#selection-count').textContent.startsWith('24 items')"
        )
        page.mouse.move(box[0] + 2, box[1] + 2)
        page.mouse.down()
        page.mouse.move(box[0] + box[2] / 2, box[1] + box[3] / 2, steps=5)
        page.mouse.up()
        page.wait_for_function("browser.selection === null || browser.selection.shown.length < 24")
        sel = page.evaluate("browser.selection ? browser.selection.shown : []")
        page.wait_for_function(
            f"document.querySelector('#browse-count').textContent.includes('{len(sel)} items')"
        )
        assert set(_grid(page)) == set(sel)

        # a lasso (shift + drag) around the whole map selects every point again
        page.keyboard.down("Shift")
        corners = [(2, 2), (box[2] - 2, 2), (box[2] - 2, box[3] - 2), (2, box[3] - 2), (2, 4)]
        page.mouse.move(box[0] + 2, box[1] + 2)
        page.mouse.down()
        for cx, cy in corners[1:]:
            page.mouse.move(box[0] + cx, box[1] + cy, steps=8)
        page.mouse.up()
        page.keyboard.up("Shift")
        page.wait_for_function("browser.selection !== null && !!browser.selection.polygon")
        page.wait_for_function(
            "document.querySelector('#browse-count').textContent.includes('24 items')"
        )

        # hover a point: the tooltip shows its thumbnail
        pts = page.evaluate("state.points.slice(0, 1)")
        x = box[0] + 14 + pts[0]["x"] * (box[2] - 28)
        y = box[1] + 14 + (1 - pts[0]["y"]) * (box[3] - 28)
        page.mouse.move(x, y)
        page.wait_for_selector("#map-tip:not([hidden]) img")
        page.screenshot(path=str(shots / "map.png"))

        # an item view shows the audit's flags
        page.click("#clear-sel")
        page.wait_for_selector("#browse-grid .card")
        page.click("#browse-grid .card:nth-child(1) img")
        page.wait_for_selector("#item-flags li")
        flags = page.text_content("#item-flags")
        assert "uniqueness" in flags
        assert "error score" in flags
        page.screenshot(path=str(shots / "item.png"))
        browser.close()
    assert not errors, errors
