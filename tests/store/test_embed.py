from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from PIL import Image

from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.store import EmbedReport, embed_dataset


class CountingImageEncoder:
    """A tiny deterministic image encoder that counts how many images it saw."""

    name = "fake-image"
    version = "1"
    dim = 4
    image_size = 8

    def __init__(self, fail_after: int | None = None) -> None:
        self.seen = 0
        self.fail_after = fail_after

    def pixels(self, image: Image.Image) -> np.ndarray:
        return np.asarray(image.convert("RGB").resize((8, 8)), np.uint8)

    def normalize_batch(self, pixels: np.ndarray) -> np.ndarray:
        return (pixels.astype(np.float32) / 255.0).transpose(0, 3, 1, 2)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return self.normalize_batch(self.pixels(image)[None])[0]

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        if self.fail_after is not None and self.seen >= self.fail_after:
            raise KeyboardInterrupt  # a kill in the middle of a run
        self.seen += len(batch)
        return np.stack([batch.mean(axis=(2, 3)).sum(1), *batch.mean(axis=(2, 3)).T], 1)

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_batch(np.stack([self.preprocess(i) for i in images]))


class CountingTextEncoder:
    name = "fake-text"
    version = "1"
    dim = 3

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.array([[len(t), t.count(" "), 1.0] for t in texts], np.float32)


def make_items(n: int, start: int = 0) -> list[Item]:
    rng = np.random.default_rng(start)
    return [
        Item(
            id=f"i{start + k}",
            pixels=rng.integers(0, 255, (6, 6, 3), dtype=np.uint8),
            title=f"title {start + k}",
            description="" if k % 2 else f"a longer description {start + k}",
            tags=("x", "y"),
            label="a" if k % 2 else "b",
        )
        for k in range(n)
    ]


def run(items, tmp_path, image=None, text=None, report=None):
    return embed_dataset(
        Dataset("toy", items),
        image or CountingImageEncoder(),
        text or CountingTextEncoder(),
        cache_dir=tmp_path,
        progress=False,
        report=report,
    )


def test_second_run_does_no_encoder_work_and_gives_same_arrays(tmp_path):
    items = make_items(20)
    first = run(items, tmp_path)
    image, text = CountingImageEncoder(), CountingTextEncoder()
    second = run(items, tmp_path, image, text)
    assert image.seen == 0
    assert text.seen == []
    np.testing.assert_array_equal(first.image, second.image)
    for name in first.text:
        np.testing.assert_array_equal(first.text[name], second.text[name])


def test_adding_ten_items_embeds_ten(tmp_path):
    run(make_items(20), tmp_path)
    image = CountingImageEncoder()
    feats = run(make_items(20) + make_items(10, start=100), tmp_path, image)
    assert image.seen == 10
    assert feats.image_mask.all()
    assert feats.image.shape == (30, 4)


def test_missing_text_is_masked_not_encoded(tmp_path):
    text = CountingTextEncoder()
    feats = run(make_items(4), tmp_path, text=text)
    assert feats.text_mask["description"].tolist() == [True, False, True, False]
    assert (feats.text["description"][1] == 0).all()
    assert "" not in text.seen
    assert feats.text_mask["text"].all()


def test_identical_texts_are_encoded_once(tmp_path):
    text = CountingTextEncoder()
    run(make_items(6), tmp_path, text=text)
    assert text.seen.count("x, y") == 1


def test_corrupt_image_is_reported_skipped_and_not_cached(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    items = [*make_items(3), Item(id="broken", image=str(bad), title="t", label="a")]
    report = EmbedReport()
    feats = run(items, tmp_path / "cache", report=report)
    assert [f[0] for f in report.failures] == ["broken"]
    assert feats.image_mask.tolist() == [True, True, True, False]
    assert (feats.image[3] == 0).all()
    image = CountingImageEncoder()
    again = EmbedReport()
    run(items, tmp_path / "cache", image, report=again)
    assert image.seen == 0
    assert [f[0] for f in again.failures] == ["broken"]


def test_killed_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr("pictext.store.embed.CHUNK", 8)
    items = make_items(24)
    with pytest.raises(KeyboardInterrupt):
        run(items, tmp_path, CountingImageEncoder(fail_after=16))
    image = CountingImageEncoder()
    feats = run(items, tmp_path, image)
    assert image.seen == 8
    reference = run(items, tmp_path / "fresh", CountingImageEncoder())
    np.testing.assert_allclose(feats.image, reference.image, rtol=1e-6)
