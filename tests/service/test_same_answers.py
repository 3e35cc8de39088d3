"""The CLI and the service answer from the same library calls: same lists, same captions.

Both run on the toy bundle with the toy encoders (the CLI finds them through the registry,
patched here; the service through its encoder factory).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from service_toys import picture, toy_factory


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run ``pictext ...`` through its one error boundary (:func:`pictext.cli.main`) with the
    toy encoders and a private cache; returns the exit code and the output."""
    monkeypatch.setattr("pictext.encoders.registry.create_encoder", toy_factory)
    monkeypatch.setenv("PICTEXT_CACHE", str(tmp_path / "cli-cache"))
    from pictext.cli import main

    def run(*args):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main([str(a) for a in args])
        return SimpleNamespace(exit_code=code, output=out.getvalue())

    return run


@pytest.fixture
def query_png(tmp_path: Path) -> Path:
    path = tmp_path / "query.png"
    picture("blue", seed=99).save(path)
    return path


def _upload(path: Path) -> dict:
    return {"image": (path.name, path.read_bytes(), "image/png")}


def _cli_hits(output: str) -> list[tuple[str, float]]:
    rows = [line.split() for line in output.splitlines() if line.strip()[:1].isdigit()]
    return [
        (r[1], float(next(t for t in r if t.startswith("d=")).removeprefix("d="))) for r in rows
    ]


@pytest.mark.parametrize("route", ["similar", "divergent"])
def test_cli_and_service_give_the_same_list(cli, client, toy_root, query_png, route) -> None:
    res = cli(route, query_png, "-k", 6, "--index", toy_root / "bundle" / "index")
    assert res.exit_code == 0, res.output
    by_cli = _cli_hits(res.output)
    body = client.post(f"/{route}", files=_upload(query_png), data={"k": "6"}).json()
    by_service = [(h["id"], h["distance"]) for h in body["hits"]]
    assert len(by_cli) == 6
    assert [i for i, _ in by_cli] == [i for i, _ in by_service]
    np.testing.assert_allclose([d for _, d in by_cli], [d for _, d in by_service], atol=2e-4)


# diverse knobs that, on the toy collection, give another list than the farthest
_SPREAD_OUT = {"mode": "diverse", "spread": "0.9", "quantile": "0.3"}


@pytest.mark.parametrize("knobs", [{}, {"mode": "farthest"}, _SPREAD_OUT])
def test_cli_and_service_give_the_same_divergent_list(
    cli, client, toy_root, query_png, knobs
) -> None:
    from pictext.rank.divergent import Divergence

    flags = [a for name, v in knobs.items() for a in (f"--{name}", v)]
    index = toy_root / "bundle" / "index"
    res = cli("divergent", query_png, "-k", 6, "--index", index, *flags)
    assert res.exit_code == 0, res.output
    by_cli = _cli_hits(res.output)
    body = client.post("/divergent", files=_upload(query_png), data={"k": "6", **knobs}).json()
    div = Divergence(**{n: v if n == "mode" else float(v) for n, v in knobs.items()})
    assert body["divergence"]["mode"] == div.mode
    assert body["divergence"]["describe"] == div.describe()
    assert div.describe() in res.output  # both say which mode answered
    by_service = [(h["id"], h["distance"]) for h in body["hits"]]
    assert len(by_cli) == 6
    assert [i for i, _ in by_cli] == [i for i, _ in by_service]
    np.testing.assert_allclose([d for _, d in by_cli], [d for _, d in by_service], atol=2e-4)
    # an item of the collection: the service's item_id form and the CLI's id query agree
    item = by_cli[0][0]
    res = cli("divergent", f"id:{item}", "-k", 6, "--index", index, *flags)
    by_id = client.post("/divergent", data={"item_id": item, "k": "6", **knobs}).json()
    assert [i for i, _ in _cli_hits(res.output)] == [h["id"] for h in by_id["hits"]]


def test_the_spread_out_knobs_change_the_toy_list(cli, toy_root, query_png) -> None:
    index = toy_root / "bundle" / "index"
    far = cli("divergent", query_png, "-k", 6, "--index", index, "--mode", "farthest")
    flags = [a for name, v in _SPREAD_OUT.items() for a in (f"--{name}", v)]
    spread = cli("divergent", query_png, "-k", 6, "--index", index, *flags)
    assert [i for i, _ in _cli_hits(far.output)] != [i for i, _ in _cli_hits(spread.output)]


def test_bad_divergent_knobs_are_refused(cli, client, toy_root, query_png) -> None:
    res = cli("divergent", query_png, "--index", toy_root / "bundle" / "index", "--mode", "near")
    assert res.exit_code != 0
    assert "unknown divergent mode" in res.output
    r = client.post("/divergent", files=_upload(query_png), data={"mode": "near"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "mode"
    r = client.post("/divergent", files=_upload(query_png), data={"spread": "1.5"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "spread"


def test_cli_and_service_give_the_same_caption(cli, client, toy_root, query_png) -> None:
    import pictext
    from pictext.caption import CaptionThresholds

    res = cli("caption", query_png, "--model", toy_root / "bundle" / "captioner", "--json")
    assert res.exit_code == 0, res.output
    by_cli = json.loads(res.output.strip().splitlines()[-1])["caption"]
    body = client.post("/caption", files=_upload(query_png), data={"k": "5"}).json()
    assert by_cli == body["caption"]
    assert "blue" in by_cli
    for mode in ("similar", "divergent"):
        model = pictext.load(
            toy_root / "bundle" / "captioner",
            dataset=str(toy_root / "data"),
            cache_dir=toy_root / "cache",
        )
        [got] = model.caption_search([query_png], 5, text_encoder="toy-text",
                                     thresholds=CaptionThresholds())  # fmt: skip
        text, matches = got.caption, got.similar if mode == "similar" else got.divergent
        assert text == body["caption"]
        assert [(m.id, round(m.score, 4)) for m in matches] == [
            (h["id"], h["score"]) for h in body[mode]
        ]


def test_the_page_map_is_the_library_projection(client, toy_root) -> None:
    from pictext.core.projection import project_2d, unit_square
    from pictext.rank.index import SearchIndex

    ix = SearchIndex.load(toy_root / "bundle" / "index")
    want = unit_square(project_2d(ix.vectors, "pca"))  # the toy service maps by PCA
    got = {p["id"]: (p["x"], p["y"]) for p in client.get("/map").json()["points"]}
    np.testing.assert_allclose([got[i] for i in ix.ids], np.round(want, 4), atol=2e-4)


def test_k_above_the_limit_is_refused(client) -> None:
    assert client.get("/info").json()["limits"]["max_k"] == 100
    r = client.post("/similar", data={"title": "a red picture", "k": "101"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "k"
    assert "101" in r.json()["error"]["message"]
    assert client.post("/similar", data={"title": "a red picture", "k": "100"}).status_code == 200


def test_a_lower_max_k_is_enforced(toy_root) -> None:
    from fastapi.testclient import TestClient
    from service_toys import toy_config

    from pictext.service.app import create_app

    app = create_app(
        toy_root / "bundle",
        toy_config(max_k=3),
        encoder_factory=toy_factory,
        cache_dir=toy_root / "cache",
    )
    client = TestClient(app)
    assert client.post("/tag", data={"title": "a red picture", "k": "3"}).status_code == 200
    r = client.post("/tag", data={"title": "a red picture", "k": "4"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "k"


# ---- an item that cannot be read is refused, naming it ------------------------------------------
@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return path


def _one_error_line(output: str, path: Path) -> None:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert str(path) in lines[0]
    assert "cannot read" in lines[0]


def test_cli_refuses_an_unreadable_image(cli, toy_root, broken) -> None:
    bundle = toy_root / "bundle"
    for args in (
        ("tag", broken, "--model", bundle / "classifier", "--title", "a red picture"),
        ("verify", broken, "--label", "red", "--model", bundle / "classifier"),
        ("similar", f"file:{broken}", "--index", bundle / "index"),
        ("divergent", broken, "--index", bundle / "index"),
        ("caption", broken, "--model", bundle / "captioner"),
    ):
        res = cli(*args)
        assert res.exit_code == 1, (args, res.output)
        _one_error_line(res.output, broken)


def test_cli_tag_of_several_items_answers_the_readable_ones(cli, toy_root, broken, query_png):
    res = cli("tag", query_png, broken, "--model", toy_root / "bundle" / "classifier")
    assert res.exit_code == 1  # some item failed
    assert str(query_png) + ": " in res.output  # labels for the readable one
    assert str(broken) + ": " not in res.output.replace(f"cannot read {broken}", "")
    lines = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert lines[0].startswith(f"error: cannot read {broken}")
    assert lines[1] == "error: 1 of 2 items could not be read; answered the other 1"


# ---- index build uses the encoders the ranking head recorded -------------------------------------
def test_index_build_uses_the_heads_encoders(cli, toy_root, tmp_path) -> None:
    from service_toys import ToyImageEncoder, ToyTextEncoder

    from pictext.data import load_dataset
    from pictext.rank.head import RankingHead
    from pictext.rank.index import SearchIndex
    from pictext.store import embed_dataset

    ds = load_dataset(toy_root / "data")
    feats = embed_dataset(
        ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path, progress=False
    )
    head = RankingHead(embed_dim=8, epochs=2, batch_size=16, use_text=True, progress=False)
    head.fit(feats, ds.labels(), classes=ds.classes).save(tmp_path / "head")
    out = tmp_path / "index"
    res = cli("index", "build", toy_root / "data", "--head", tmp_path / "head", "--out", out)
    assert res.exit_code == 0, res.output
    built = SearchIndex.load(out)
    assert built.manifest.image_encoder == "toy-image@1"
    assert built.manifest.text_encoder == "toy-text@1"
    want = SearchIndex.build(feats, head=head, labels=[it.label for it in ds.items])
    np.testing.assert_allclose(built.vectors, want.vectors, atol=1e-6)
