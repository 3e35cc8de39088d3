"""Example, outside the package: unfreeze the last part of the image tower and train it end to
end with a fusion head (the classification study's "last 50% of layers" setting).

Frozen towers + trained heads are pictext's CPU default. On CPU this did not beat the frozen
tower on validation (tuxpaint, 160 px, 2 epochs), so it is not a ``pictext train`` option;
it stays here for users with a GPU or small data. On CPU the images can be downsized
(``image_size``) to keep an epoch short. Run its test: ``pytest tests/examples``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.classify.fusion import FusionClassifier, FusionConfig

if TYPE_CHECKING:
    import torch

    from pictext.data.item import Item
    from pictext.store.features import Features


@dataclass
class FinetuneConfig:
    """How to fine-tune the image tower."""

    image_encoder: str = "efficientnet-lite0"  # registry name of the tower
    fraction: float = 0.5  # share of the tower's blocks to unfreeze (study: 0.5)
    image_size: int | None = None  # train/eval at this side (None: the encoder's own)
    epochs: int = 3  # end-to-end epochs after the head is trained on frozen features
    lr_tower: float = 1e-4  # learning rate of the unfrozen tower layers
    lr_head: float = 3e-4  # learning rate of the head during end-to-end training
    batch_size: int = 16  # images per step
    seed: int = 0  # seeds the head and the shuffling


class FinetunedClassifier:
    """A :class:`FusionClassifier` head on a partly trainable image tower.

    Training runs in two stages: the head is first fitted on frozen-tower features (exactly
    the frozen baseline, kept as ``frozen_``), then tower tail and head train together.

    Args:
        head: the head's hyperparameters (its ``inputs`` must include ``"image"``).
        config: tower, fraction, resolution and schedule.
        tower: the torch image tower (default: the registry encoder's ``torch_module()``).
        unfreeze: ``(tower, fraction) -> trainable params`` (default: ``trainable_tail``).
    """

    def __init__(
        self,
        head: FusionConfig | None = None,
        config: FinetuneConfig | None = None,
        *,
        tower: torch.nn.Module | None = None,
        unfreeze: Callable[[torch.nn.Module, float], list] | None = None,
    ) -> None:
        self.head_config = head or FusionConfig()
        self.config = config or FinetuneConfig()
        self._tower, self._unfreeze = tower, unfreeze
        if "image" not in self.head_config.inputs:
            raise ValueError("fine-tuning needs 'image' among the head's inputs")
        self.frozen_: FusionClassifier | None = None
        self.model_: FusionClassifier | None = None
        self.tower_: torch.nn.Module | None = None
        self.history_: dict[str, Any] = {}

    def pixels(self, items: Sequence[Item]) -> np.ndarray:
        """Preprocessed images ``float16 [N, 3, S, S]`` at the configured side."""
        import torch

        from pictext.data.images import load_image
        from pictext.encoders import create_encoder

        enc = create_encoder(self.config.image_encoder)
        out = []
        for it in items:
            x = torch.from_numpy(enc.preprocess(load_image(it, enc.image_size)))[None]
            if self.config.image_size and self.config.image_size != x.shape[-1]:
                x = torch.nn.functional.interpolate(
                    x, size=self.config.image_size, mode="bilinear", antialias=True
                )
            out.append(x[0].to(torch.float16).numpy())
        return np.stack(out)

    def fit(
        self,
        pixels: np.ndarray,
        feats: Features,
        y: np.ndarray,
        val: tuple[np.ndarray, Features, np.ndarray],
        *,
        classes: Sequence[str] | None = None,
    ) -> FinetunedClassifier:
        """Stage 1 (frozen head) then stage 2 (end to end), keeping the best val epoch.

        Args:
            pixels: training images from :meth:`pixels`.
            feats: training features (text inputs; the image input is recomputed).
            y: training class indices.
            val: ``(pixels, features, y)`` of the validation split.
            classes: class names.
        """
        import torch

        from pictext.encoders import create_encoder
        from pictext.encoders.efficientnet_torch import trainable_tail

        torch.manual_seed(self.config.seed)
        tower = self._tower or create_encoder(self.config.image_encoder).torch_module()
        self.tower_ = tower.eval()
        t0 = time.perf_counter()
        tr_f, va_f = self._with_image(pixels, feats), self._with_image(val[0], val[1])
        self.history_["frozen_features_s"] = time.perf_counter() - t0
        self.frozen_ = FusionClassifier(self.head_config).fit(
            tr_f, y, va_f, val[2], classes=classes
        )
        self.model_ = _copy_head(self.frozen_)
        tail = (self._unfreeze or trainable_tail)(self.tower_, self.config.fraction)
        self.history_["trainable_tower_params"] = int(sum(p.numel() for p in tail))
        self._end_to_end(pixels, feats, y, val, tail)
        return self

    def predict_proba(self, pixels: np.ndarray, feats: Features) -> np.ndarray:
        """Class probabilities with the fine-tuned tower and head."""
        if self.model_ is None:
            raise RuntimeError("FinetunedClassifier is not fitted")
        return self.model_.predict_proba(self._with_image(pixels, feats))

    def _with_image(self, pixels: np.ndarray, feats: Features, batch: int = 32) -> Features:
        import torch

        self.tower_.eval()
        with torch.no_grad():
            rows = [
                self.tower_(torch.from_numpy(pixels[i : i + batch]).float())
                for i in range(0, len(pixels), batch)
            ]
        out = feats.subset(np.arange(feats.n))
        out.image = torch.cat(rows).numpy()
        out.image_mask = np.ones(feats.n, bool)
        out.image_encoder = f"{self.config.image_encoder}@finetune"
        return out

    def _end_to_end(
        self, pixels: np.ndarray, feats: Features, y: np.ndarray, val: tuple, tail: list
    ) -> None:
        import copy

        import torch

        net, cfg = self.model_.net_, self.config
        opt = torch.optim.AdamW(
            [{"params": tail, "lr": cfg.lr_tower}, {"params": net.parameters(), "lr": cfg.lr_head}],
            weight_decay=self.head_config.weight_decay,
        )
        text_only = feats.subset(np.arange(feats.n))
        text_only.image, text_only.image_mask = None, None  # image rows come from the tower
        x, m = self.model_._tensors(text_only)
        m["image"] = torch.ones(feats.n, dtype=torch.bool)
        yt = torch.from_numpy(np.asarray(y, np.int64))
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=self.head_config.label_smoothing)
        gen = torch.Generator().manual_seed(cfg.seed)
        best = self._val_top1(val)
        hist = {"val_top1": [best], "loss": [], "epoch_s": []}
        state = copy.deepcopy((self.tower_.state_dict(), net.state_dict()))
        for _ in range(cfg.epochs):
            t0, total = time.perf_counter(), 0.0
            net.train()  # the tower stays in eval mode: frozen BatchNorm statistics
            for idx in torch.randperm(len(yt), generator=gen).split(cfg.batch_size):
                xb = {k: v[idx] for k, v in x.items()}
                xb["image"] = self.tower_(torch.from_numpy(pixels[idx.numpy()]).float())
                loss = loss_fn(net(xb, {k: v[idx] for k, v in m.items()}), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            net.eval()
            hist["loss"].append(total / len(yt))
            hist["epoch_s"].append(time.perf_counter() - t0)
            hist["val_top1"].append(self._val_top1(val))
            if hist["val_top1"][-1] > best:
                best, state = (
                    hist["val_top1"][-1],
                    copy.deepcopy((self.tower_.state_dict(), net.state_dict())),
                )
        self.tower_.load_state_dict(state[0])
        net.load_state_dict(state[1])
        self.history_.update(hist)

    def _val_top1(self, val: tuple[np.ndarray, Features, np.ndarray]) -> float:
        p = self.model_.predict_proba(self._with_image(val[0], val[1]))
        return float(np.mean(p.argmax(1) == val[2]))


def _copy_head(model: FusionClassifier) -> FusionClassifier:
    """A deep copy of a fitted head (same weights, encoders, classes)."""
    import copy

    new = FusionClassifier(dataclasses.replace(model.config))
    new.__dict__.update(copy.deepcopy(model.__dict__))
    return new
