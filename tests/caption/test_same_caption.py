"""``pictext caption`` and the service's ``/caption`` (what the page calls) give one caption.

Both load the bundle's captioner with :func:`~pictext.caption.load_captioner` and decode with
the one default; checked for a trained decoder and for the consensus captioner, on the toy
collection of the service tests (tiny encoders, tiny models).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra")

from service_toys import (
    ToyImageEncoder,
    ToyTextEncoder,
    picture,
    toy_config,
    toy_factory,
    write_dataset,
)

QUERIES = [("blue", 99), ("red", 98), ("green", 97)]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two bundles over the toy collection holding only a captioner: merge, and consensus."""
    from pictext.caption import Captioner, ConsensusCaptioner
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    root = tmp_path_factory.mktemp("same-caption")
    data = write_dataset(root / "data")
    ds = load_dataset(data)
    feats = embed_dataset(ds, ToyImageEncoder(), None, cache_dir=root / "cache", progress=False)
    captions = [[it.description, it.title] for it in ds.items]
    merge = Captioner(
        epochs=40, min_count=1, hidden=16, dropout=0.0, lr=1e-2, batch_size=8,
        val_fraction=0.0, patience=0, threads=1,
    )  # fmt: skip
    merge.fit(feats.image, [c[0] for c in captions], image_encoder=feats.image_encoder)
    consensus = ConsensusCaptioner(k=4).fit(
        feats.image, captions, ToyTextEncoder(), image_encoder=feats.image_encoder
    )
    out = {"cache": root / "cache"}
    for kind, model in (("merge", merge), ("consensus", consensus)):
        out[kind] = root / kind
        model.save(out[kind] / "captioner")
        (out[kind] / "bundle.json").write_text(json.dumps({"dataset": str(data)}))
    return out


@pytest.mark.parametrize("kind", ["merge", "consensus"])
def test_cli_and_service_give_the_same_caption(bundles, kind, tmp_path, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from pictext.caption import DEFAULT_DECODING, Captioner, ConsensusCaptioner
    from pictext.cli import app as cli_app
    from pictext.service.app import create_app

    used = []  # every decoding a caption was made with, on either side
    for cls in (Captioner, ConsensusCaptioner):
        real = cls.predict

        def spy(self, image, *, decoding=None, _real=real):
            used.append(decoding or DEFAULT_DECODING)
            return _real(self, image, decoding=decoding)

        monkeypatch.setattr(cls, "predict", spy)
    paths = []
    for colour, seed in QUERIES:
        paths.append(tmp_path / f"{colour}.png")
        picture(colour, seed=seed).save(paths[-1])
    monkeypatch.setattr("pictext.encoders.registry.create_encoder", toy_factory)
    monkeypatch.setenv("PICTEXT_CACHE", str(tmp_path / "cli-cache"))
    args = ["caption", *map(str, paths), "--model", str(bundles[kind] / "captioner"), "--json"]
    res = CliRunner().invoke(cli_app, args)
    assert res.exit_code == 0, res.output
    by_cli = [json.loads(line)["caption"] for line in res.output.strip().splitlines()]

    service = create_app(
        bundles[kind], toy_config(), encoder_factory=toy_factory, cache_dir=bundles["cache"]
    )
    with TestClient(service) as client:
        by_service = []
        for path in paths:
            files = {"image": (path.name, path.read_bytes(), "image/png")}
            body = client.post("/caption", files=files, data={"k": "3"}).json()
            by_service.append(body["caption"])
    assert by_cli == by_service
    assert len(used) >= 2
    assert set(used) == {DEFAULT_DECODING}  # one decoding: the CLI's, the page's, the catalog's
    for (colour, _), caption in zip(QUERIES, by_cli, strict=True):
        assert colour in caption.split(), (kind, caption)  # and the caption is about the image
