"""Bundles with parts missing or wrong, encoder version checks, and the concurrency gate."""

from __future__ import annotations

import ast
import asyncio
import json
import shutil
from pathlib import Path

import pytest
from service_toys import ToyImageEncoder, picture, png_bytes, toy_config, toy_factory

from pictext.bundle import layout as bundle_module
from pictext.bundle.layout import PARTS, BundleError, find_bundle, write_bundle_info
from pictext.core import artifacts
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


def _code_strings(path: Path) -> list[str]:
    """String literals of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def test_parts_are_recognised_through_the_artifact_registry(tmp_path: Path) -> None:
    kinds = bundle_module.PART_KINDS
    assert kinds == {
        "classifier": artifacts.CLASSIFIER,
        "index": artifacts.INDEX,
        "captioner": artifacts.CAPTIONER,
    }
    literals = _code_strings(Path(bundle_module.__file__))
    assert "config.json" not in " ".join(literals)  # the header file is the registry's too
    for kind in artifacts.KINDS.values():  # no format name re-typed in the service
        assert not [s for s in literals if kind.name in s], kind.name
        assert not kind.legacy or not [s for s in literals if kind.legacy in s], kind.legacy
    for part, kind in kinds.items():
        root = tmp_path / part
        artifacts.write_config(root / part, kind, {"dataset": "somewhere"})
        found = find_bundle(root)
        assert found.part(part) == root / part
        assert found.missing() == [p for p in PARTS if p != part]
        assert find_bundle(root / part).part(part) == root / part  # a part is a bundle


def test_old_or_unknown_versions_of_parts_are_refused(tmp_path: Path) -> None:
    artifacts.write_config(tmp_path / "b" / "index", artifacts.INDEX, {})
    meta = {"format": artifacts.CLASSIFIER.name, "version": 0}
    (tmp_path / "b" / "classifier").mkdir()
    (tmp_path / "b" / "classifier" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"not a saved classifier \(pictext-classifier version 0"):
        find_bundle(tmp_path / "b")
    old = tmp_path / "old_index"
    old.mkdir()
    (old / "manifest.json").write_text('{"format": "pictext-index/1", "dataset": "x"}')
    with pytest.raises(BundleError, match=r"in the old 'pictext-index/1' layout.*index build"):
        find_bundle(old)


def test_bundle_json_written_by_the_library_is_read_and_checked(
    toy_root: Path, tmp_path: Path
) -> None:
    shutil.copytree(toy_root / "bundle" / "index", tmp_path / "index")
    write_bundle_info(tmp_path, dataset="pictures", title="Toys")
    meta = json.loads((tmp_path / "bundle.json").read_text())
    assert (meta["format"], meta["version"]) == ("pictext-bundle", artifacts.BUNDLE.version)
    b = find_bundle(tmp_path)
    assert b.info == {"dataset": "pictures", "title": "Toys"}
    assert b.dataset == "pictures"
    (tmp_path / "bundle.json").write_text('{"format": "pictext-bundle", "version": 7}')
    with pytest.raises(BundleError, match=r"pictext-bundle version 7 \(newer pictext\)"):
        find_bundle(tmp_path)
    (tmp_path / "bundle.json").write_text('{"format": "pictext-index", "version": 1}')
    with pytest.raises(BundleError, match="holds a search index"):
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
