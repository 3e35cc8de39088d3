"""Training that grows with the collection: scaled epochs and batches, and the time budget
the training loop honours."""

from __future__ import annotations

import time

import pytest

from pictext.core.budget import (
    EXAMPLES,
    MIN_EPOCHS,
    SCALE_FROM,
    current_budget,
    scaled_batch,
    scaled_epochs,
    scaled_patience,
    training_budget,
)


def test_small_collections_keep_their_settings() -> None:
    for n in (10, 950, SCALE_FROM):
        assert scaled_epochs(n, 200) == 200
        assert scaled_patience(n, 200, 20) == 20
        assert scaled_batch(n, 64) == 64


def test_large_collections_get_fewer_epochs_and_larger_batches() -> None:
    assert scaled_epochs(56_000, 200) == -(-EXAMPLES // 56_000)
    assert scaled_epochs(10**7, 200) == MIN_EPOCHS
    assert scaled_epochs(56_000, 10) == 10  # never more than asked
    assert 3 <= scaled_patience(56_000, 200, 20) < 20
    assert scaled_patience(56_000, 200, None) is None
    assert scaled_batch(2 * SCALE_FROM, 64) == 128
    assert scaled_batch(56_000, 64) == 256
    assert scaled_batch(10**8, 64) == 512


def test_the_budget_is_scoped_and_checked() -> None:
    assert current_budget() is None
    with training_budget(5.0):
        assert current_budget() == 5.0
        with training_budget(None):
            assert current_budget() is None
        assert current_budget() == 5.0
    assert current_budget() is None
    with pytest.raises(ValueError, match="positive"), training_budget(0):
        pass


def test_the_loop_stops_at_the_budget_and_keeps_its_best_epoch() -> None:
    torch = pytest.importorskip("torch")
    from pictext.core.train import LoopConfig, train_loop

    model = torch.nn.Linear(2, 1)
    x = torch.randn(32, 2)

    def batches(epoch: int):
        time.sleep(0.05)
        yield x

    scores = iter([0.1, 0.9] + [0.2] * 10_000)
    cfg = LoopConfig(epochs=10_000, patience=None, progress=False)
    start = time.perf_counter()
    with training_budget(0.3):
        hist = train_loop(
            model, batches, lambda b: model(b).pow(2).mean(), cfg, lambda: next(scores)
        )
    assert time.perf_counter() - start < 3.0
    assert hist.stopped == "time budget"
    assert 2 <= len(hist.loss) < 100
    assert hist.best_epoch == 1
    hist = train_loop(model, batches, _loss(model), LoopConfig(epochs=3, progress=False))
    assert (hist.stopped, len(hist.loss)) == ("", 3)  # no budget: every epoch runs


def _loss(model):
    return lambda b: model(b).pow(2).mean()
