"""On real data and real encoders: an uploaded collection image goes through the service's
upload path (checks, decoding, encoders) to exactly the vectors the embedding store made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_uploads_match_the_store_on_tuxpaint(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from pictext.classify.fusion import FusionClassifier
    from pictext.data import load_dataset
    from pictext.data.errors import DatasetNotFoundError
    from pictext.rank.index import SearchIndex
    from pictext.service.app import create_app
    from pictext.service.config import ServiceConfig
    from pictext.store import embed_dataset

    try:
        ds = load_dataset("tuxpaint")
    except DatasetNotFoundError as err:
        pytest.skip(f"tuxpaint not installed: {err}")
    feats = embed_dataset(ds, "efficientnet-lite0", "use", progress=False)
    bundle = tmp_path / "bundle"
    labels = [it.label for it in ds.items]
    SearchIndex.build(feats, labels=labels, dataset="tuxpaint").save(bundle / "index")
    clf = FusionClassifier(epochs=3, seed=0).fit(feats, ds.labels(), classes=ds.classes)
    clf.save(bundle / "classifier")
    client = TestClient(create_app(bundle, ServiceConfig(map_method="pca")))
    picks = [
        next(i for i, it in enumerate(ds.items) if it.image.endswith(s)) for s in (".png", ".svg")
    ]
    for row in picks:
        item = ds.items[row]
        kind = "image/svg+xml" if item.image.endswith(".svg") else "image/png"
        upload = {"image": (Path(item.image).name, Path(item.image).read_bytes(), kind)}
        hits = client.post("/similar", files=upload, data={"k": "1"}).json()["hits"]
        assert hits[0]["id"] == item.id, (item.id, hits)
        assert hits[0]["distance"] < 1e-3, (item.id, hits)
        text = {"title": item.title, "description": item.description, "tags": ",".join(item.tags)}
        top = client.post("/tag", files=upload, data={**text, "k": "3"}).json()["top"]
        want = clf.predict_proba(feats.subset(np.array([row])))[0]
        for t in top:
            assert abs(t["p"] - want[ds.classes.index(t["label"])]) < 1e-3, (item.id, t)
