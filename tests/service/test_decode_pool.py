"""Decoding runs in its own slots, apart from the model slots: uploads that decode slowly (a
hostile SVG rendered up to its CPU budget) never make an ordinary request wait for a model.
"""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra")

from service_toys import toy_config, toy_factory

BOUND_S = 5.0  # an ordinary text /tag with every decode slot held (measured ~0.05 s here)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(out, "PNG")
    return out.getvalue()


def test_slow_uploads_never_hold_a_model_slot(toy_root, monkeypatch):
    from fastapi.testclient import TestClient

    import pictext.service.routes as routes
    from pictext.service.app import create_app

    release = threading.Event()
    started = threading.Semaphore(0)
    real = routes.decode

    def slow_decode(upload, *args, **kwargs):
        if upload is not None and upload.filename == "slow.png":
            started.release()
            release.wait(30)
        return real(upload, *args, **kwargs)

    monkeypatch.setattr(routes, "decode", slow_decode)
    app = create_app(
        toy_root / "bundle",
        toy_config(concurrency=2, decode_concurrency=2),
        encoder_factory=toy_factory,
        cache_dir=toy_root / "cache",
    )
    with TestClient(app) as client, ThreadPoolExecutor(4) as pool:
        slow = [
            pool.submit(client.post, "/tag", files={"image": ("slow.png", _png(), "image/png")})
            for _ in range(4)
        ]
        assert started.acquire(timeout=10)
        assert started.acquire(timeout=10)  # both decode slots are held
        try:
            took = []
            for _ in range(5):
                t0 = time.perf_counter()
                res = client.post("/tag", data={"title": "a red picture"})
                took.append(time.perf_counter() - t0)
                assert res.status_code == 200, res.text
            assert max(took) < BOUND_S
        finally:
            release.set()
        assert all(f.result(timeout=30).status_code == 200 for f in slow)
