"""What the browser tests share: Debian's Chromium (skipped loudly when absent) and an app
served by uvicorn on a free loopback port in a background thread."""

from __future__ import annotations

import base64
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str:
    """The path of Debian's Chromium; skip the test, saying so, when it is not installed."""
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        pytest.skip(
            "SKIPPED LOUDLY: Debian chromium is not installed (apt-get install -y chromium); "
            "the browser test did not run"
        )
    return path


def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yield its base URL, then stop the server."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


def drop_file(page, data: bytes, name: str, kind: str) -> None:
    """Drop a file on the drop zone the way a browser does: a DataTransfer with a File."""
    page.evaluate(
        """([b64, name, kind]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: kind }));
            const drop = document.querySelector('#drop');
            const opts = { dataTransfer: dt, bubbles: true, cancelable: true };
            drop.dispatchEvent(new DragEvent('dragover', opts));
            drop.dispatchEvent(new DragEvent('drop', opts));
        }""",
        [base64.b64encode(data).decode(), name, kind],
    )
