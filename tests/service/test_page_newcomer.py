"""The page as a newcomer uses it, in headless Chromium: answers follow the text, one error
per problem, the keyboard, a view kept in the URL; and the report fits a 1,280 px window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_page import CHROMIUM_ARGS, chromium, drop_file, serve
from service_toys import picture, png_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(toy_root: Path) -> Iterator[str]:
    from service_toys import toy_config, toy_factory

    from pictext.service.app import create_app

    app = create_app(
        toy_root / "bundle", toy_config(), encoder_factory=toy_factory, cache_dir=toy_root / "cache"
    )
    yield from serve(app)


@pytest.fixture
def page() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
        yield browser.new_page(viewport={"width": 1280, "height": 1000})
        browser.close()


SHOWS = "id => document.querySelector('#item-id').textContent === id"


def _red() -> tuple[bytes, str, str]:
    return png_bytes(picture("red", size=(120, 90), seed=5)), "red.png", "image/png"


def test_a_title_change_re_runs_the_answers(server: str, page) -> None:
    tags: list[str] = []
    page.on("request", lambda r: tags.append(r.url) if r.url.endswith("/tag") else None)
    page.goto(server + "/")
    page.wait_for_selector("#claim option:nth-child(2)", state="attached")
    drop_file(page, *_red())
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('done')")
    before = len(tags)
    page.type("#title-in", "a red square")
    page.wait_for_function("document.querySelector('#status').textContent.includes('re-running')")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('done')")
    assert len(tags) == before + 1  # debounced: one re-run for the whole word


def test_a_non_image_upload_shows_one_error(server: str, page) -> None:
    page.goto(server + "/")
    page.wait_for_selector("#claim option:nth-child(2)", state="attached")
    drop_file(page, b"this is not an image", "notes.png", "image/png")
    page.wait_for_selector("#status .error")
    visible = page.eval_on_selector_all(
        ".error", "els => els.filter(e => e.offsetParent !== null).map(e => e.textContent)"
    )
    assert len(visible) == 1, visible


def test_keyboard_moves_in_the_grid_and_the_item_view(server: str, page) -> None:
    page.goto(server + "/")
    page.wait_for_selector("#browse-grid a.card")
    ids = page.eval_on_selector_all("#browse-grid a.card", "els => els.map(e => e.dataset.id)")
    page.focus("#browse-grid a.card")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.id") == ids[1]
    page.keyboard.press("Enter")
    page.wait_for_function(SHOWS, arg=ids[1])
    page.keyboard.press("ArrowRight")
    page.wait_for_function(SHOWS, arg=ids[2])
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(SHOWS, arg=ids[1])
    page.keyboard.press("Escape")
    page.wait_for_selector("#item-view", state="hidden")


def test_the_url_keeps_and_restores_the_view(server: str, page) -> None:
    page.goto(server + "/")
    page.wait_for_selector("#browse-grid a.card")
    label = page.eval_on_selector("#f-label option:nth-child(2)", "o => o.value")
    page.select_option("#f-label", label)
    page.wait_for_function("l => location.search.includes('label=' + l)", arg=label)
    url = page.url
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector("#browse-grid a.card")
    assert page.eval_on_selector("#f-label", "s => s.value") == label
    shown = page.eval_on_selector_all(
        "#browse-grid a.card .card-label", "els => els.map(e => e.textContent)"
    )
    assert shown
    assert set(shown) == {label}


def test_the_report_shows_ece_and_fits_1280_px(tmp_path: Path, page) -> None:
    from pictext.report import write_report

    run = tmp_path / "run"
    (run / "classifier").mkdir(parents=True)
    (run / "table").mkdir()
    metrics = {"test": {"top1": 80.0, "top5": 97.0, "ece": 5.3, "ece_uncalibrated": 17.0}}
    (run / "classifier" / "metrics.json").write_text(json.dumps(metrics))
    long = "efficientnet-lite0-int8+multilingual-minilm-l12-int8 " * 3
    row = "| " + " | ".join([f"fusion {long}"] + ["81.0 ± 1.0"] * 12) + " |"
    head = "| model | " + " | ".join(f"metric {i}" for i in range(12)) + " |"
    table = "\n".join(["# Table 3: toy", "", head, "|---" * 13 + "|", row])
    (run / "table" / "table3.md").write_text(table)
    picture("red", size=(60, 40), seed=1).save(run / "classifier" / "confusion_matrix.png")
    html = write_report(run)
    page.goto(html.as_uri())
    assert "ECE 5.3% after calibration (17.0% before)" in page.text_content("body")
    assert page.query_selector("img[src$='confusion_matrix.png']") is not None
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
