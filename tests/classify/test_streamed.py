"""A fusion head trained from memory-mapped features in streamed minibatches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pictext.classify.fusion import FusionClassifier
from pictext.core.train import epoch_order, read_rows
from pictext.store.features import Features


def _separable(n: int, d: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = 2.0 * rng.normal(size=(classes, d))
    y = rng.integers(0, classes, n)
    return (means[y] + rng.normal(size=(n, d))).astype(np.float32), y


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray]:
    x, y = _separable(20_000, 32, 5, seed=0)
    path = Path(tmp_path_factory.mktemp("feats")) / "image.npy"
    np.save(path, x)
    return np.load(path, mmap_mode="r"), y


def _features(x: np.ndarray) -> Features:
    return Features([str(i) for i in range(len(x))], image=x, image_encoder="toy@1")


def test_streamed_head_learns_from_a_memmap(mapped: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = mapped
    assert isinstance(x, np.memmap)
    clf = FusionClassifier(
        inputs=("image",), epochs=2, hidden=32, image_tune_dim=32, batch_size=256, chunk_rows=3000
    ).fit(_features(x), y, classes=[str(c) for c in range(5)])
    test_x, test_y = _separable(2000, 32, 5, seed=0)  # same class means, new rows
    accuracy = float((clf.predict(_features(test_x)) == test_y).mean())
    assert accuracy > 0.8  # chance is 0.2


def test_one_chunk_is_a_plain_permutation() -> None:
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    (rows, parts), *rest = list(epoch_order(10, 4, gen_a, chunk_rows=100))
    assert rest == []
    assert rows == slice(0, 10)
    expected = torch.randperm(10, generator=gen_b).split(4)
    assert all(torch.equal(a, b) for a, b in zip(parts, expected, strict=True))


def test_chunks_cover_every_row_once() -> None:
    seen = []
    for rows, parts in epoch_order(1000, 64, torch.Generator().manual_seed(0), chunk_rows=300):
        seen += [rows.start + int(i) for p in parts for i in p]
    assert sorted(seen) == list(range(1000))


def test_read_rows_copies_out_of_a_memmap(mapped: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = mapped
    part = read_rows(x, slice(10, 20))
    assert not isinstance(part, np.memmap)
    assert part.flags.writeable
    np.testing.assert_array_equal(part, np.asarray(x[10:20]))
    inmem = np.ones((5, 3), np.float32)
    assert np.shares_memory(read_rows(inmem, slice(0, 5)), inmem)  # no copy in memory
