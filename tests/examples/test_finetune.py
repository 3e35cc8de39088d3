from __future__ import annotations

import numpy as np
import torch
from heads_synth import make_features

from finetune_image_tower import FinetuneConfig, FinetunedClassifier
from pictext.classify.fusion import FusionConfig
from pictext.classify.metrics import topk_accuracy


class TinyTower(torch.nn.Module):
    """[N, 3, 8, 8] -> [N, 6]: a frozen first layer and a trainable last one."""

    def __init__(self) -> None:
        super().__init__()
        self.first = torch.nn.Conv2d(3, 4, 3)
        self.last = torch.nn.Linear(4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(torch.relu(self.first(x)).mean(dim=(2, 3)))


def _unfreeze_last(tower: TinyTower, fraction: float) -> list:
    for p in tower.parameters():
        p.requires_grad_(False)
    params = list(tower.last.parameters())
    for p in params:
        p.requires_grad_(True)
    return params


def test_finetune_trains_the_tail_only_and_keeps_the_best_epoch() -> None:
    torch.manual_seed(0)
    feats, y = make_features(80, 2, seed=0)
    rng = np.random.default_rng(0)
    pixels = (rng.normal(size=(80, 3, 8, 8)) + y[:, None, None, None]).astype(np.float16)
    tower = TinyTower()
    first_before = tower.first.weight.detach().clone()
    last_before = tower.last.weight.detach().clone()
    head = FusionConfig(epochs=10, patience=10, hidden=16, tune_dim=8, image_tune_dim=8, lr=3e-3)
    ft = FinetunedClassifier(
        head, FinetuneConfig(epochs=2, batch_size=16), tower=tower, unfreeze=_unfreeze_last
    )
    tr, va = np.arange(60), np.arange(60, 80)
    ft.fit(pixels[tr], feats.subset(tr), y[tr], (pixels[va], feats.subset(va), y[va]))
    assert torch.equal(tower.first.weight, first_before)  # frozen part untouched
    assert len(ft.history_["val_top1"]) == 3  # frozen head + 2 end-to-end epochs
    assert ft.history_["trainable_tower_params"] == 6 * 4 + 6
    p = ft.predict_proba(pixels[va], feats.subset(va))
    assert np.isfinite(p).all()
    # the kept weights are those of the best validation epoch
    assert topk_accuracy(p, y[va]) == max(ft.history_["val_top1"])
    if max(ft.history_["val_top1"][1:]) > ft.history_["val_top1"][0]:
        assert not torch.equal(tower.last.weight, last_before)
