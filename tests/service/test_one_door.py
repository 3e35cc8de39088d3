"""One entry per job: ``pictext.load(...)``, the command line (a subprocess) and the service
(TestClient) give the same answers to the same inputs, on the toy bundle.

The three go through :class:`pictext.bundle.model.Model`; this holds them to it from the
outside: same labels and probabilities, same ids and distances, same captions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from service_toys import picture, toy_factory

SUPPORT = Path(__file__).resolve().parents[1] / "support"
SRC = Path(__file__).resolve().parents[2] / "src"


def _cli(*args: object, cache: Path) -> list[dict]:
    """``pictext ARGS --json`` run as a subprocess with the toy encoders; its JSON lines."""
    env = dict(os.environ, PICTEXT_CACHE=str(cache))
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(SUPPORT)])
    res = subprocess.run(
        [sys.executable, str(SUPPORT / "toy_cli.py"), *map(str, args), "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def query_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("door") / "query.png"
    picture("green", seed=7).save(path)
    return path


@pytest.fixture
def model(toy_root: Path, monkeypatch: pytest.MonkeyPatch):
    import pictext

    monkeypatch.setattr("pictext.encoders.registry.create_encoder", toy_factory)
    return pictext.load(toy_root / "bundle", cache_dir=toy_root / "cache")


def _upload(path: Path) -> dict:
    return {"image": (path.name, path.read_bytes(), "image/png")}


def test_tag_is_the_same_three_ways(model, client, toy_root, query_png, tmp_path) -> None:
    [by_python] = model.tag([query_png], 3)
    [by_cli] = _cli("tag", query_png, "--model", toy_root / "bundle", "-k", 3, cache=tmp_path)
    body = client.post("/tag", files=_upload(query_png), data={"k": "3"}).json()
    by_service = [(t["label"], t["p"]) for t in body["top"]]
    assert [lab for lab, _ in by_python] == [lab for lab, _ in by_cli["top"]]
    assert [lab for lab, _ in by_python] == [lab for lab, _ in by_service]
    np.testing.assert_allclose([p for _, p in by_python], [p for _, p in by_service], atol=1e-4)
    np.testing.assert_allclose([p for _, p in by_cli["top"]], [p for _, p in by_service], atol=1e-4)


@pytest.mark.parametrize("route", ["similar", "divergent"])
def test_search_is_the_same_three_ways(model, client, toy_root, query_png, tmp_path, route) -> None:
    answer = getattr(model, route)(str(query_png), 5)
    index = toy_root / "bundle"
    [by_cli] = _cli(route, query_png, "--index", index, "-k", 5, cache=tmp_path)
    body = client.post(f"/{route}", files=_upload(query_png), data={"k": "5"}).json()
    ids = [h.id for h in answer.hits]
    assert len(ids) == 5
    assert ids == [h["id"] for h in by_cli["hits"]] == [h["id"] for h in body["hits"]]
    dist = [h.distance for h in answer.hits]
    np.testing.assert_allclose(dist, [h["distance"] for h in body["hits"]], atol=2e-4)
    # a collection item by id: the service's item page, the CLI and Python agree
    item = ids[0]
    page = client.get(f"/items/{item}", params={"neighbours": 4}).json()
    [by_id] = _cli("similar", f"id:{item}", "--index", index, "-k", 4, cache=tmp_path)
    by_python = [h.id for h in model.similar(f"id:{item}", 4).hits]
    assert by_python == [h["id"] for h in by_id["hits"]] == [h["id"] for h in page["similar"]]


def test_caption_is_the_same_three_ways(model, client, toy_root, query_png, tmp_path) -> None:
    [by_python] = model.caption([query_png])
    [by_cli] = _cli("caption", query_png, "--model", toy_root / "bundle", cache=tmp_path)
    body = client.post("/caption", files=_upload(query_png), data={"k": "5"}).json()
    assert by_python == by_cli["caption"] == body["caption"]
    assert "green" in by_python


def test_the_default_k_is_one_for_cli_service_and_python(
    model, client, toy_root, query_png, tmp_path
) -> None:
    from pictext.core import defaults

    [by_cli] = _cli("similar", query_png, "--index", toy_root / "bundle", cache=tmp_path)
    body = client.post("/similar", files=_upload(query_png)).json()
    n = min(defaults.SEARCH_K, len(model.index))
    assert len(model.similar(str(query_png)).hits) == len(by_cli["hits"]) == len(body["hits"]) == n
