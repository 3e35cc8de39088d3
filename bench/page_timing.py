"""The page at scale in Debian's Chromium (Playwright): first draw of the map, hover cost per
frame, and a box over the whole map filtering the grid. Used by ``bench/scale_workflows.py``.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` on a free loopback port, in a thread, while the block runs."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


HOVER_JS = """() => {
  const c = document.querySelector('#map'), r = c.getBoundingClientRect(), ms = [];
  for (let i = 0; i < 300; i++) {
    const x = r.left + 20 + Math.random() * (r.width - 40);
    const y = r.top + 20 + Math.random() * (r.height - 40);
    const t = performance.now();
    c.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y, bubbles: true}));
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return [ms[Math.floor(ms.length / 2)], ms[Math.floor(ms.length * 0.99)], ms[ms.length - 1]];
}"""


def page_rows(app: Any) -> list[tuple[str, str]]:
    """Chromium timings of the page served from ``app``; none (said so) without Chromium."""
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [("  page timings", "skipped: playwright not installed")]
    if not shutil.which(exe):
        return [("  page timings", "skipped: no Debian chromium")]
    with served(app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url + "/")
        page.wait_for_function("typeof mapState !== 'undefined' && mapState.layer !== null")
        draws = [
            page.evaluate(
                "async () => { const t = performance.now(); await fetchView(); "
                "return performance.now() - t; }"
            )
            for _ in range(5)
        ]
        n_drawn = page.evaluate("state.points.length")
        hover = page.evaluate(HOVER_JS)
        page.eval_on_selector("#map", "c => c.scrollIntoView()")
        box = page.eval_on_selector(
            "#map",
            "c => { const r = c.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }",
        )
        t = time.perf_counter()
        page.mouse.move(box[0] + 2, box[1] + 2)
        page.mouse.down()
        page.mouse.move(box[0] + box[2] - 2, box[1] + box[3] - 2, steps=5)
        page.mouse.up()
        page.wait_for_function(
            "document.querySelector('#selection-count').textContent.includes('items selected')"
        )
        t_box = time.perf_counter() - t
        count = page.text_content("#selection-count")
        cards = page.eval_on_selector_all("#browse-grid .card", "els => els.length")
        browser.close()
    draws.sort()
    return [
        ("  page: map fetch + parse + draw (median of 5)", f"{draws[2]:.0f} ms ({n_drawn} points)"),
        ("  page: hover per frame p50 / p99 / max (300 moves)",
         f"{hover[0]:.2f} / {hover[1]:.2f} / {hover[2]:.2f} ms"),
        ("  page: box over the whole map -> grid", f"{count} ({cards} cards), {t_box:.1f} s"),
    ]  # fmt: skip
