"""The one training loop: early stopping, best weights, history, clipping, loss means."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from pictext.core.train import LoopConfig, make_optimizer, train_loop  # noqa: E402


class _Scripted:
    """A one-weight model and a validation score read from a script, one value per epoch."""

    def __init__(self, scores: list[float]) -> None:
        self.model = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.constant_(self.model.weight, 0.0)
        self.scores = list(scores)
        self.weights: list[float] = []  # the weight after each epoch, when it is scored
        self.modes: list[bool] = []  # model.training when scored

    def batches(self, epoch: int) -> list[torch.Tensor]:
        return [torch.ones(2, 1), torch.ones(3, 1)]

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        return (self.model(x) - 10.0).pow(2).mean()

    def score(self) -> float:
        self.weights.append(float(self.model.weight.detach()))
        self.modes.append(self.model.training)
        return self.scores[len(self.weights) - 1]


def _cfg(**kw) -> LoopConfig:
    return LoopConfig(**{"lr": 0.1, "epochs": 8, "progress": False, **kw})


def test_keeps_the_best_epoch_and_stops_after_patience() -> None:
    run = _Scripted([0.1, 0.5, 0.3, 0.5, 0.4, 0.9, 1.0, 1.0])
    hist = train_loop(run.model, run.batches, run.loss, _cfg(patience=3), run.score)
    assert hist.best_epoch == 1  # a tie (epoch 3) does not replace the earlier best
    assert len(hist.loss) == len(hist.val_score) == 5  # epochs 2, 3, 4 were not better
    assert hist.val_score == [0.1, 0.5, 0.3, 0.5, 0.4]
    assert float(run.model.weight.detach()) == run.weights[1]  # the best epoch's weights restored
    assert run.weights[1] != run.weights[-1]
    assert not any(run.modes)  # scored in eval mode
    assert not run.model.training


def test_without_patience_every_epoch_runs_and_the_best_is_kept() -> None:
    run = _Scripted([0.2, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    hist = train_loop(run.model, run.batches, run.loss, _cfg(patience=None), run.score)
    assert len(hist.loss) == 8
    assert hist.best_epoch == 1
    assert float(run.model.weight.detach()) == run.weights[1]


def test_restore_best_false_keeps_the_last_weights() -> None:
    run = _Scripted([0.2, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    cfg = _cfg(patience=None, restore_best=False)
    hist = train_loop(run.model, run.batches, run.loss, cfg, run.score)
    assert float(run.model.weight.detach()) == run.weights[-1]
    assert hist.best_epoch == 7


def test_nan_scores_are_never_better_and_without_validation_the_last_epoch_is_kept() -> None:
    run = _Scripted([math.nan] * 8)
    hist = train_loop(run.model, run.batches, run.loss, _cfg(patience=None), run.score)
    assert hist.best_epoch == -1
    assert float(run.model.weight.detach()) == run.weights[-1]
    plain = _Scripted([])
    hist = train_loop(plain.model, plain.batches, plain.loss, _cfg(epochs=4))
    assert hist.best_epoch == 3
    assert hist.val_score == []
    assert len(hist.loss) == 4
    assert hist.loss[-1] < hist.loss[0]
    assert set(hist.to_dict()) == {"loss", "val_score", "best_epoch", "seconds", "stopped"}


def test_epoch_loss_is_the_mean_per_batch_or_per_example() -> None:
    sizes = [torch.zeros(1), torch.zeros(3)]  # two batches whose losses are 1 and 5
    model = torch.nn.Linear(1, 1)
    model.weight.requires_grad_(False)

    def loss(batch: torch.Tensor) -> torch.Tensor:
        return model.bias.sum() * 0 + (1.0 if len(batch) == 1 else 5.0)

    cfg = _cfg(epochs=1)
    assert train_loop(model, lambda e: sizes, loss, cfg).loss == [3.0]
    cfg = _cfg(epochs=1, loss_mean="example")
    assert train_loop(model, lambda e: sizes, loss, cfg).loss == [4.0]  # (1 * 1 + 5 * 3) / 4


def test_gradients_are_clipped_when_asked() -> None:
    def last_grad_norm(clip: float | None) -> float:
        model = torch.nn.Linear(4, 1)
        cfg = _cfg(epochs=1, clip_grad_norm=clip)
        train_loop(model, lambda e: [torch.ones(2, 4)], lambda x: 1000 * model(x).sum(), cfg)
        return float(torch.cat([p.grad.flatten() for p in model.parameters()]).norm())

    assert last_grad_norm(None) > 100
    assert last_grad_norm(1.0) == pytest.approx(1.0, rel=1e-4)


def test_optimizers_by_name_and_bad_settings() -> None:
    w = [torch.nn.Parameter(torch.zeros(2))]
    assert isinstance(make_optimizer(w, "adam", 1e-3, 0.0), torch.optim.Adam)
    assert isinstance(make_optimizer(w, "AdamW", 1e-3, 0.0), torch.optim.AdamW)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer(w, "sgd", 1e-3, 0.0)
    with pytest.raises(ValueError, match="loss_mean"):
        LoopConfig(loss_mean="token")
    with pytest.raises(ValueError, match="patience"):
        LoopConfig(patience=-1)


def test_config_from_takes_same_named_fields_then_overrides() -> None:
    from types import SimpleNamespace

    from pictext.core.train import LoopConfig, config_from

    head = SimpleNamespace(lr=0.5, epochs=7, patience=3, hidden=64, optimizer="nadam")
    loop = config_from(LoopConfig, head, patience=None, desc="toy")
    assert (loop.lr, loop.epochs, loop.optimizer) == (0.5, 7, "nadam")  # taken from the head
    assert loop.patience is None  # an override wins over the head's value
    assert loop.desc == "toy"
    assert loop.weight_decay == LoopConfig().weight_decay  # absent on the head: the default
    assert not hasattr(loop, "hidden")  # the head's own settings stay out
