"""Integration tests on the real Debian data packages (slow)."""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pictext.data import load_dataset
from pictext.data.errors import ItemError
from pictext.data.images import image_content_key, load_image
from pictext.data.split import duplicate_groups, normalised_text, stratified_split

pytestmark = pytest.mark.slow


def _keys(item) -> set:
    """An item's exact-duplicate keys: its normalised text and its image's content."""
    keys = {("text", normalised_text(item.text))} if normalised_text(item.text) else set()
    with contextlib.suppress(ItemError):  # unreadable image: matched by text only
        keys.add(("image", image_content_key(item)))
    return keys


def _novel(ds, train, test) -> np.ndarray:
    """Per test item: no training item has exactly its image or its text."""
    seen = set().union(*(_keys(ds.items[int(i)]) for i in train))
    return np.array([not (_keys(ds.items[int(i)]) & seen) for i in test])


def _require(path: str, package: str) -> None:
    if not Path(path).exists():
        pytest.skip(f"SKIPPED LOUDLY: Debian package {package} is not installed ({path} missing)")


def test_openclipart() -> None:
    _require("/usr/share/openclipart/svg", "openclipart-svg")
    start = time.perf_counter()
    ds = load_dataset("openclipart")
    assert time.perf_counter() - start < 30
    assert 3500 <= len(ds) <= 3800
    assert len(ds.classes) == 19
    assert not {"computer", "shapes", "special"} & set(ds.classes)
    reals = [os.path.realpath(it.image) for it in ds]
    assert len(set(reals)) == len(reals)  # symlinked copies read once
    assert sum(bool(it.title) for it in ds) / len(ds) > 0.95
    assert sum(bool(it.tags) for it in ds) / len(ds) > 0.9
    rng = np.random.default_rng(0)
    for i in rng.choice(len(ds), 8, replace=False):
        img = load_image(ds[int(i)])
        assert img.mode == "RGB"
        assert max(img.size) == 256
    everything = load_dataset("openclipart", include_all=True)
    assert len(everything) > 7000
    assert {"computer", "shapes"} <= set(everything.classes)


def test_openclipart_stripped_and_novel_split() -> None:
    _require("/usr/share/openclipart/svg", "openclipart-svg")
    ds = load_dataset("openclipart", strip_label_words=True)
    for item in ds:
        words = {w.lower() for w in item.title.replace("_", " ").split()}
        assert item.label.lower() not in words
    split = stratified_split(ds.labels(), holdout=0.25, seed=0)
    novel = _novel(ds, split.train, split.test)
    assert 0.3 < novel.mean() < 0.95  # many test items duplicate a training text
    grouped = stratified_split(ds.labels(), holdout=0.25, seed=0, groups=duplicate_groups(ds))
    assert _novel(ds, grouped.train, grouped.test).all()


def test_tuxpaint() -> None:
    _require("/usr/share/tuxpaint/stamps", "tuxpaint-stamps-default")
    ds = load_dataset("tuxpaint")
    assert len(ds) == 950
    assert len(ds.classes) == 16
    assert not any("_mirror" in it.id for it in ds)
    assert len({it.id for it in ds}) == len(ds)  # PNG/SVG pairs read once
    assert Counter(Path(it.image).suffix for it in ds)[".png"] > 700
    assert all(it.description and not it.tags for it in ds)
    assert sum("no description file" in p for p in ds.problems) == 6
    frog = next(it for it in ds if it.id == "animals/amphibians/frog")
    assert (frog.description, frog.label, frog.fine_label) == ("A frog.", "animals", "amphibians")
    img = load_image(frog)
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == (255, 255, 255)


def test_fashion_mnist() -> None:
    _require("/usr/share/datasets/fashion-mnist", "dataset-fashion-mnist")
    start = time.perf_counter()
    ds = load_dataset("fashion-mnist")
    assert time.perf_counter() - start < 20
    assert len(ds) == 70_000
    assert len(ds.classes) == 10
    assert ds[0].id == "train/00000"
    assert ds[60_000].id == "test/00000"
    assert ds[0].label == "Ankle boot"
    assert ds[60_000].label == "Ankle boot"
    assert np.bincount(ds.labels()).tolist() == [7000] * 10
    assert ds[0].pixels.shape == (28, 28)
    assert ds[0].text == ""
    assert load_image(ds[1]).size == (28, 28)
