"""End to end in a real headless Chromium (Debian's), driven by Playwright: upload an image by
drag and drop, read the tags shown, open an item from the similar grid and from the map.

The server is uvicorn on 127.0.0.1 and a free port, in a thread. By default it serves the
tiny toy bundle; set ``PICTEXT_E2E_BUNDLE`` to a real bundle folder (and ``PICTEXT_E2E_IMAGE``
to an image file, ``PICTEXT_E2E_SCREENSHOT`` to where the page picture goes) to run the same
steps on real models.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_page import CHROMIUM_ARGS, chromium, drop_file, serve
from service_toys import picture, png_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(toy_root: Path) -> Iterator[str]:
    from pictext.service.app import create_app

    real = os.environ.get("PICTEXT_E2E_BUNDLE")
    if real:
        app = create_app(real)
    else:
        from service_toys import toy_config, toy_factory

        app = create_app(
            toy_root / "bundle",
            toy_config(),
            encoder_factory=toy_factory,
            cache_dir=toy_root / "cache",
        )
    yield from serve(app)


def _upload_bytes() -> tuple[bytes, str, str]:
    path = os.environ.get("PICTEXT_E2E_IMAGE")
    if path:
        p = Path(path)
        kind = "image/svg+xml" if p.suffix == ".svg" else "image/png"
        return p.read_bytes(), p.name, kind
    return png_bytes(picture("red", size=(120, 90), seed=5)), "red.png", "image/png"


def test_page_end_to_end(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    exe = chromium()
    shot = Path(os.environ.get("PICTEXT_E2E_SCREENSHOT") or tmp_path / "serve-page.png")
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.on("request", lambda r: requests.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/")
        page.wait_for_selector("#claim option:nth-child(2)", state="attached")
        page.fill("#title-in", "my picture")
        first_class = page.eval_on_selector("#claim option:nth-child(2)", "o => o.value")
        page.select_option("#claim", first_class)
        drop_file(page, *_upload_bytes())

        page.wait_for_selector("#tags-out li")
        labels = page.eval_on_selector_all(
            "#tags-out li .label", "els => els.map(e => e.textContent)"
        )
        widths = page.eval_on_selector_all(
            "#tags-out li .fill", "els => els.map(e => e.style.width)"
        )
        assert 1 <= len(labels) <= 5
        assert all(w.endswith("%") for w in widths)
        if not os.environ.get("PICTEXT_E2E_BUNDLE"):
            assert labels[0] == "red"
        page.wait_for_selector("#verify-out .badge")
        page.wait_for_selector("#similar-grid .card img")
        page.wait_for_selector("#divergent-grid .card")
        # the page says which divergent mode answered, and asks again when it is changed
        page.wait_for_function(
            "document.querySelector('#divergent-mode').textContent.includes('diverse')"
        )
        page.select_option("#div-mode", "farthest")
        page.wait_for_function(
            "document.querySelector('#divergent-mode').textContent.includes('farthest')"
        )
        assert page.eval_on_selector("#div-spread", "e => e.disabled")
        page.select_option("#div-mode", "diverse")
        page.wait_for_function(
            "document.querySelector('#divergent-mode').textContent.includes('diverse')"
        )
        page.wait_for_function("document.querySelector('#caption-out').textContent.length > 3")
        page.wait_for_function(
            "Array.from(document.querySelectorAll('#similar-grid .card img'))"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        page.screenshot(path=str(shot), full_page=True)

        first = page.query_selector("#similar-grid .card")
        item_id = first.get_attribute("data-id")
        first.click()
        page.wait_for_selector("#item-view:not([hidden])")
        page.wait_for_function(
            "id => document.querySelector('#item-id').textContent === id", arg=item_id
        )
        assert page.text_content("#item-title") not in ("", "loading…")
        page.wait_for_selector("#item-similar .card")
        page.screenshot(path=str(shot.with_name(shot.stem + "-item.png")))
        page.click("#item-close")
        page.wait_for_selector("#item-view", state="hidden")

        page.eval_on_selector("#map", "c => c.scrollIntoView()")
        box = page.eval_on_selector(
            "#map",
            "c => { const r = c.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }",
        )
        pts = page.evaluate("state.points.slice(0, 1)")
        x = box[0] + 14 + pts[0]["x"] * (box[2] - 28)
        y = box[1] + 14 + (1 - pts[0]["y"]) * (box[3] - 28)
        page.mouse.click(x, y)
        page.wait_for_selector("#item-view:not([hidden])")
        page.wait_for_function("document.querySelector('#item-id').textContent.length > 0")
        browser.close()
    assert not errors, errors
    assert all(
        u.startswith(server) or u.startswith("blob:") or u.startswith("data:") for u in requests
    ), [u for u in requests if not u.startswith(server)]
    assert shot.stat().st_size > 10_000


def test_docs_render_offline(server: str) -> None:
    """Swagger UI at /docs draws the API from local files only."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    exe = chromium()
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(server + "/docs")
        page.wait_for_selector(".opblock-summary-path >> text=/tag")
        paths = page.eval_on_selector_all(
            ".opblock-summary-path", "els => els.map(e => e.textContent.trim())"
        )
        browser.close()
    assert "/similar" in paths
    assert "/caption" in paths
    assert all(u.startswith(server) or u.startswith("data:") for u in requests), requests
