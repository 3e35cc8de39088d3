"""``pictext tag`` / ``pictext verify`` end to end on real tuxpaint items and real encoders."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from pictext.classify.fusion import FusionClassifier
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    ds = load_dataset("tuxpaint")
    y = ds.labels()
    pick = np.concatenate([np.flatnonzero(y == c)[:8] for c in range(len(ds.classes))])
    sub = ds.subset(pick)
    feats = embed_dataset(sub, progress=False)
    clf = FusionClassifier(epochs=40, patience=40).fit(feats, sub.labels(), classes=sub.classes)
    out = tmp_path_factory.mktemp("model")
    clf.save(out)
    return out, sub


def _app():
    from pictext.cli import app

    return app


def test_tag_one_image(model_dir) -> None:
    out, sub = model_dir
    item = sub.items[0]
    args = ["tag", item.image, "--model", str(out), "--description", item.description, "--json"]
    res = CliRunner().invoke(_app(), args)
    assert res.exit_code == 0, res.output
    row = json.loads(res.output.strip().splitlines()[-1])
    assert len(row["top"]) == 5
    assert row["top"][0][0] == item.label  # a training item: the model should know it
    probs = [p for _, p in row["top"]]
    assert probs == sorted(probs, reverse=True)


def test_verify_manifest_and_unknown_label(model_dir, tmp_path, capsys) -> None:
    from pictext.cli import main

    out, sub = model_dir
    manifest = tmp_path / "m.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "description", "label"])
        for it in sub.items[:3]:
            w.writerow([it.image, it.description, it.label])
    res = CliRunner().invoke(
        _app(), ["verify", "--manifest", str(manifest), "--model", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.strip().splitlines() if line.startswith("{")]
    assert len(rows) == 3
    assert all(r["verdict"] == "agree" for r in rows)
    capsys.readouterr()
    status = main(["verify", sub.items[0].image, "--label", "unicorn", "--model", str(out)])
    [line] = capsys.readouterr().err.strip().splitlines()
    assert status == 2  # a usage error: the label is not one of the model's
    assert "unknown label" in line
    assert sub.classes[0] in line
