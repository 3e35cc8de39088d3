"""Bundles with parts missing or wrong, encoder version checks, and the concurrency gate."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from service_toys import ToyImageEncoder, picture, png_bytes, toy_config, toy_factory

from pictext.service.bundle import BundleError, find_bundle
from pictext.service.errors import ServiceError
from pictext.service.timing import Gate, Timing


def _app(bundle: Path, root: Path, **kw):
    from fastapi.testclient import TestClient

    from pictext.service.app import create_app

    app = create_app(
        bundle, toy_config(), cache_dir=root / "cache", **{"encoder_factory": toy_factory, **kw}
    )
    return TestClient(app)


def test_classifier_only_bundle_answers_503_naming_the_command(
    toy_root: Path, tmp_path: Path
) -> None:
    only = tmp_path / "only"
    shutil.copytree(toy_root / "bundle" / "classifier", only / "classifier")
    client = _app(only, toy_root)
    img = {"image": ("r.png", png_bytes(picture("red")), "image/png")}
    assert client.post("/tag", files=img).status_code == 200
    for route in ("/similar", "/divergent", "/caption"):
        r = client.post(route, files=img)
        assert r.status_code == 503, route
        err = r.json()["error"]
        assert err["code"] == "part_missing"
        assert ("pictext index build" if route != "/caption" else "pictext caption-train") in err[
            "hint"
        ]
    assert client.get("/map").status_code == 503
    r = client.get("/items/red/red1.png")
    assert r.status_code == 404
    assert "names no dataset" in r.json()["error"]["message"]
    info = client.get("/info").json()
    assert info["parts"]["index"] is False
    assert "index" in info["missing"]


def test_a_saved_part_folder_is_a_bundle(toy_root: Path) -> None:
    b = find_bundle(toy_root / "bundle" / "index")
    assert b.index == toy_root / "bundle" / "index"
    assert b.classifier is None
    assert b.dataset == str(toy_root / "data")  # from the index manifest


def test_empty_or_wrong_bundles_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such folder"):
        find_bundle(tmp_path / "absent")
    with pytest.raises(BundleError, match="pictext train DATASET"):
        find_bundle(tmp_path)
    (tmp_path / "classifier").mkdir()
    (tmp_path / "classifier" / "config.json").write_text('{"format": "something-else"}')
    with pytest.raises(BundleError, match="not a saved classifier"):
        find_bundle(tmp_path)


def test_bundle_json_names_the_dataset(toy_root: Path, tmp_path: Path) -> None:
    shutil.copytree(toy_root / "bundle" / "captioner", tmp_path / "captioner")
    shutil.copytree(toy_root / "data", tmp_path / "pictures")
    (tmp_path / "bundle.json").write_text('{"dataset": "pictures"}')
    b = find_bundle(tmp_path)
    assert b.dataset == str(tmp_path / "pictures")
    client = _app(tmp_path, toy_root)
    assert client.get("/items/blue/blue3.png").json()["caption"].startswith("blue")


def test_encoder_version_mismatch_is_refused(toy_root: Path) -> None:
    class NewerImage(ToyImageEncoder):
        version = "2"

    def factory(name: str, **options: object) -> object:
        return NewerImage() if name == "toy-image" else toy_factory(name)

    with pytest.raises(BundleError, match=r"toy-image@1 .* toy-image@2"):
        _app(toy_root / "bundle", toy_root, encoder_factory=factory)


def test_gate_bounds_concurrency() -> None:
    async def scenario() -> list[str]:
        gate = Gate(slots=1, max_queue=1, timeout_s=0.2)
        events: list[str] = []
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.slot(Timing()):
                events.append("working")
                await release.wait()

        async def waiter() -> None:
            try:
                async with gate.slot(Timing()):
                    events.append("never")
            except ServiceError as err:
                events.append(f"{err.status} waited")

        task = asyncio.create_task(holder())
        await asyncio.sleep(0.01)
        waiting = asyncio.create_task(waiter())  # queues, then times out
        await asyncio.sleep(0.01)
        try:
            async with gate.slot(Timing()):  # queue full: refused at once
                events.append("never")
        except ServiceError as err:
            events.append(f"{err.status} {err.code}")
        await waiting
        release.set()
        await task
        async with gate.slot(Timing()):
            events.append("free again")
        return events

    assert asyncio.run(scenario()) == ["working", "503 busy", "503 waited", "free again"]
