"""Deep-ranking embedding: a linear layer over pretrained embeddings, trained with triplet loss.

The head of Hansson et al.'s first approach (after Wang et al. 2014): pretrained image
embedding -> linear embedding (4096-d by default) trained with
``max(0, g + D(q, p) - D(q, n))``, Euclidean ``D``, margin ``g = 1.0``. Triplet sampling and
the choice of negatives for label-only data are described in :mod:`pictext.rank.triplets`.

The output is L2-normalised by default (``normalize=True``, as Wang et al. do): the margin
then has a fixed scale (distances lie in ``[0, 2]``), and Euclidean nearest/farthest
neighbours coincide with cosine ones, so the index can find divergent items as the nearest
neighbours of ``-q`` (:mod:`pictext.index`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.core import defaults
from pictext.core.artifacts import RANKING_HEAD, load_artifact, save_artifact
from pictext.data.split import holdout_rows
from pictext.rank.triplets import HARD, sample_triplets, semi_hard_negatives
from pictext.store.inputs import check_encoders, input_array

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

    from pictext.store.features import Features


@dataclass
class RankingConfig:
    """Hyperparameters of :class:`RankingHead`."""

    embed_dim: int = defaults.RANK_EMBED_DIM  # width of the learned embedding (the report: 4096)
    margin: float = defaults.RANK_MARGIN  # triplet margin g
    out_of_class_frac: float = (
        defaults.RANK_OUT_OF_CLASS_FRAC
    )  # share of uniform out-of-class negatives (Wang et al.: 0.2)
    hard_negatives: bool = True  # mine the other negatives from the current embedding
    use_text: bool = False  # also feed the item's "text" embedding (masked when missing)
    align_weight: float = 0.0  # use_text: weight of the cross-modal InfoNCE loss (an item's
    # image-only and text-only views are positives, other items of the batch negatives)
    temperature: float = 0.07  # InfoNCE temperature (cosine / temperature are the logits)
    modality_dropout: float = 0.0  # use_text: chance a training row loses its image or its text,
    # so image-only, text-only and both land in one space
    normalize: bool = True  # L2-normalise the output (margin on a fixed scale)
    lr: float = defaults.RANK_LR  # Adam learning rate
    weight_decay: float = 1e-5  # Adam weight decay
    epochs: int = defaults.RANK_EPOCHS  # passes; each draws one triplet per training query
    batch_size: int = (
        defaults.RANK_BATCH_SIZE
    )  # triplets per step (also the pool hard negatives are mined from)
    validation_fraction: float = defaults.RANK_VALIDATION_FRACTION  # held out when no eval set
    restore_best: bool = True  # keep the epoch with the best held-out triplet accuracy
    seed: int = 0  # seeds sampling, initialisation and the validation split


@dataclass
class InputSpec:
    """What a fitted head reads; saved with it and checked against new features."""

    image_encoder: str | None  # "name@version" of the image tower
    text_encoder: str | None  # "name@version" of the text tower (None unless use_text)
    image_dim: int  # width of the image embedding
    text_dim: int  # width of the text embedding (0 unless use_text)
    classes: list[str] = field(default_factory=list)  # class names, when given to fit


class RankingHead:
    """Triplet-loss ranking embedding over cached pretrained embeddings.

    Example:
        >>> import numpy as np
        >>> from pictext.store.features import Features
        >>> rng = np.random.default_rng(0)
        >>> y = np.repeat(np.arange(3), 20)
        >>> x = (np.eye(3)[y] + 0.3 * rng.normal(size=(60, 3))).astype(np.float32)
        >>> f = Features([str(i) for i in range(60)], x, np.ones(60, bool), image_encoder="toy@1")
        >>> head = RankingHead(embed_dim=8, epochs=3, progress=False).fit(f, y)
        >>> head.transform(f).shape
        (60, 8)
    """

    def __init__(self, *, progress: bool = True, **config: Any) -> None:
        self.config = RankingConfig(**config)
        self.progress = progress  # show a progress bar while fitting
        self.spec: InputSpec | None = None
        self.history: list[dict[str, float]] = []  # per epoch: loss, held-out triplet acc
        self.best_epoch: int | None = None  # epoch whose weights were kept (restore_best)
        self._params: dict[str, np.ndarray] = {}

    # ---- inputs -------------------------------------------------------------------------
    def _inputs(self, feats: Features) -> tuple[np.ndarray, np.ndarray]:
        """``(x float32 [N, Din], usable bool [N])`` for ``feats``, checked against the spec."""
        spec = self.spec
        if spec is None:
            raise RuntimeError("the ranking head is not fitted; call fit() or load() first")
        inputs = ("image", "text") if self.config.use_text else ("image",)
        check_encoders(
            feats, inputs, spec.image_encoder, spec.text_encoder, model="the ranking head"
        )
        img, img_mask = input_array(feats, "image", spec.image_dim)
        if not self.config.use_text:
            return img * img_mask[:, None], img_mask
        txt, txt_mask = input_array(feats, "text", spec.text_dim)
        flags = np.stack([img_mask, txt_mask], axis=1).astype(np.float32)
        x = np.concatenate([img * img_mask[:, None], txt * txt_mask[:, None], flags], axis=1)
        return x, img_mask | txt_mask

    # ---- fitting ------------------------------------------------------------------------
    def fit(
        self,
        features: Features,
        labels: np.ndarray,
        *,
        fine_labels: np.ndarray | None = None,
        classes: list[str] | None = None,
        eval_features: Features | None = None,
        eval_labels: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        pairs: Features | None = None,
    ) -> RankingHead:
        """Train on labelled rows (label ``-1`` and rows without input are skipped).

        Args:
            features: embeddings of the training items.
            labels: class index per row.
            fine_labels: fine class index per row (``-1`` = none); enables in-class negatives.
            classes: class names, saved with the model.
            eval_features: held-out features for the per-epoch triplet accuracy; default a
                stratified ``validation_fraction`` of ``features``, removed from training.
            eval_labels: class per row of ``eval_features``.
            groups: duplicate-group id per row (:func:`pictext.data.split.duplicate_groups`);
                the default validation rows then hold whole groups, so no duplicate of a
                validation item is trained on.
            pairs: joint space (``use_text`` with ``align_weight``): unlabelled image-text
                items of other collections, used by the alignment loss only (pre-training
                pairs beyond the user's collection).
        """
        import torch

        cfg = self.config
        self.spec = _spec(features, cfg.use_text, classes)
        labels = np.asarray(labels, np.int64).copy()
        x, usable = self._inputs(features)
        labels[~usable] = -1
        if eval_features is None:
            held = holdout_rows(labels, cfg.validation_fraction, cfg.seed + 7919, groups=groups)
            x_val, y_val = x[held], labels[held]
            labels[held] = -1
        else:
            x_val, usable_val = self._inputs(eval_features)
            y_val = np.where(usable_val, np.asarray(eval_labels, np.int64), -1)
        self._init_params(x[labels >= 0])
        torch.manual_seed(cfg.seed)
        net = _Net(self._params, cfg.normalize)
        x_pairs = None
        if pairs is not None and cfg.use_text:
            x_pairs, _ = self._inputs(pairs)
        self._train(net, x, labels, fine_labels, x_val, y_val, x_pairs)
        self._params = net.export()
        return self

    def _init_params(self, x: np.ndarray) -> None:
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        self._params = {
            "mean": mean.astype(np.float32),
            "std": np.where(std > 1e-6, std, 1.0).astype(np.float32),
            "embed_dim": np.array(self.config.embed_dim),
        }

    def _train(
        self,
        net: _Net,
        x: np.ndarray,
        labels: np.ndarray,
        fine: np.ndarray | None,
        x_val: np.ndarray,
        y_val: np.ndarray,
        x_pairs: np.ndarray | None = None,
    ) -> None:
        """Every epoch draws one triplet per training query, then scores held-out triplets."""
        import torch

        from pictext.core.train import LoopConfig, config_from, train_loop

        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        val = _validation_triplets(y_val, cfg.seed)
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        yt = torch.from_numpy(labels)
        raw_acc = _triplet_acc(x_val, val) if len(val) else float("nan")
        hard_frac: list[float] = []

        def batches(epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
            trip, kind = sample_triplets(
                labels,
                rng,
                fine_labels=fine,
                out_of_class_frac=cfg.out_of_class_frac,
                hard_negatives=cfg.hard_negatives,
            )
            hard_frac.append(float(np.mean(kind == HARD)))
            size = cfg.batch_size
            return [(trip[s : s + size], kind[s : s + size]) for s in range(0, len(trip), size)]

        def val_score() -> float:
            return _triplet_acc(net.embed_numpy(x_val), val) if len(val) else float("nan")

        loop = config_from(
            LoopConfig,
            cfg,
            optimizer="adam",
            patience=None,  # every epoch runs; restore_best keeps the best one
            progress=self.progress,
            desc="ranking head",
        )
        score = val_score
        if cfg.use_text:
            joint = _Joint(self.spec.image_dim, self.spec.text_dim, cfg)  # type: ignore[union-attr]
            if x_pairs is not None:
                pt = torch.from_numpy(np.ascontiguousarray(x_pairs, dtype=np.float32))
                joint.pairs = pt[joint.both(pt)]
            loss = lambda b: joint.loss(net, xt, yt, *b)  # noqa: E731
            score = lambda: joint.val_score(net, x_val, val)  # noqa: E731
        else:
            loss = lambda b: _triplet_loss(net, xt, yt, *b, cfg.margin)  # noqa: E731
        hist = train_loop(net, batches, loss, loop, score)
        self.history = [
            {"epoch": e + 1, "loss": hist.loss[e], "val_triplet_acc": hist.val_score[e],
             "raw_val_triplet_acc": raw_acc, "hard_frac": hard_frac[e]}
            for e in range(len(hist.loss))
        ]  # fmt: skip
        kept = cfg.restore_best and hist.best_epoch >= 0
        self.best_epoch = hist.best_epoch + 1 if kept else None

    # ---- inference ----------------------------------------------------------------------
    def transform(self, features: Features, batch_size: int = 4096) -> np.ndarray:
        """Embed rows: float32 ``[N, embed_dim]``; rows without any input are all zero."""
        x, usable = self._inputs(features)
        out = self.transform_array(x, batch_size)
        out[~usable] = 0.0
        return out

    def usable(self, features: Features) -> np.ndarray:
        """Bool ``[N]``: rows that have the inputs this head reads."""
        return self._inputs(features)[1]

    def transform_array(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Embed already-assembled input rows (``[N, Din]``, as built for this head)."""
        if not self._params:
            raise RuntimeError("the ranking head is not fitted; call fit() or load() first")
        w, b = self._params["weight"], self._params["bias"]
        mean, std = self._params["mean"], self._params["std"]
        out = np.empty((len(x), w.shape[0]), np.float32)
        for s in range(0, len(x), batch_size):
            z = ((x[s : s + batch_size] - mean) / std) @ w.T + b
            if self.config.normalize:
                z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
            out[s : s + batch_size] = z
        return out

    # ---- persistence --------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (atomically)."""
        if self.spec is None:
            raise RuntimeError("cannot save an unfitted ranking head")
        config = {
            "config": asdict(self.config),
            "inputs": asdict(self.spec),
            "history": self.history,
            "best_epoch": self.best_epoch,
        }
        arrays = {k: v for k, v in self._params.items() if k != "embed_dim"}
        return save_artifact(directory, RANKING_HEAD, config, arrays)

    @classmethod
    def load(cls, directory: str | Path) -> RankingHead:
        """Read a head written by :meth:`save`.

        Raises:
            ArtifactError: not a saved ranking head of this version (the message says why).
        """
        meta, arrays = load_artifact(directory, RANKING_HEAD)
        head = cls(progress=False, **meta["config"])
        head.spec = InputSpec(**meta["inputs"])
        head.history = meta.get("history", [])
        head.best_epoch = meta.get("best_epoch")
        head._params = dict(arrays)
        return head


class _Net:
    """The trainable part: standardise -> linear -> (L2-normalise).

    It offers what :func:`pictext.core.train.train_loop` uses of a module (``parameters``,
    ``train``, ``eval``, ``state_dict``, ``load_state_dict``) without subclassing
    ``torch.nn.Module`` here, so that importing this file does not import torch.
    """

    def __init__(self, params: dict[str, np.ndarray], normalize: bool) -> None:
        import torch

        din, dout = len(params["mean"]), int(params["embed_dim"])
        self.linear = torch.nn.Linear(din, dout)
        self.mean = torch.from_numpy(params["mean"])
        self.std = torch.from_numpy(params["std"])
        self.normalize = normalize

    def parameters(self) -> list[torch.Tensor]:
        return list(self.linear.parameters())

    def train(self) -> None:
        self.linear.train()

    def eval(self) -> None:
        self.linear.eval()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        z = self.linear((x - self.mean) / self.std)
        return torch.nn.functional.normalize(z, dim=1) if self.normalize else z

    def embed_numpy(self, x: np.ndarray, batch: int = 4096) -> np.ndarray:
        import torch

        with torch.no_grad():
            parts = [
                self(torch.from_numpy(x[s : s + batch])).numpy() for s in range(0, len(x), batch)
            ]
        return (
            np.concatenate(parts) if parts else np.zeros((0, self.linear.out_features), np.float32)
        )

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.linear.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.linear.load_state_dict(state)

    def export(self) -> dict[str, np.ndarray]:
        return {
            "weight": self.linear.weight.detach().numpy().copy(),
            "bias": self.linear.bias.detach().numpy().copy(),
            "mean": self.mean.numpy().copy(),
            "std": self.std.numpy().copy(),
            "embed_dim": np.array(self.linear.out_features),
        }


def _triplet_loss(
    net: _Net,
    x: torch.Tensor,
    y: torch.Tensor,
    trip: np.ndarray,
    kind: np.ndarray,
    margin: float,
    view: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Triplet loss of a batch; its HARD negatives are mined among the batch's embeddings.

    ``view`` (if given) changes each member's input rows first (modality dropout)."""
    import torch

    t = torch.from_numpy(trip)
    see = view or (lambda rows: rows)
    zq, zp, zn = net(see(x[t[:, 0]])), net(see(x[t[:, 1]])), net(see(x[t[:, 2]]))
    hard = torch.from_numpy(kind == HARD)
    if bool(hard.any()):
        pool = torch.cat([zq, zp, zn])
        pool_y = torch.cat([y[t[:, 0]], y[t[:, 1]], y[t[:, 2]]])
        d_qc = torch.cdist(zq, pool)
        d_qp = (zq - zp).norm(dim=1)
        idx, found = semi_hard_negatives(
            d_qp.detach(), d_qc.detach(), y[t[:, 0]][:, None] != pool_y[None]
        )
        use = hard & found
        zn = torch.where(use[:, None], pool[idx], zn)
    return torch.nn.functional.triplet_margin_loss(zq, zp, zn, margin=margin, p=2)


class _Joint:
    """The joint image-text space's training: the triplet loss on labels over views with
    modality dropout, plus a symmetric InfoNCE between each item's image-only and text-only
    views; validation scores queries by image only, by text only and by both.

    A row of the head's input is ``[image (di), text (dt), has_image, has_text]``; a view
    without an input is built exactly as a missing input is at answer time (zeros, flag 0).
    """

    def __init__(self, di: int, dt: int, cfg: RankingConfig) -> None:
        self.di, self.dt, self.cfg = di, dt, cfg
        self.pairs: torch.Tensor | None = None  # unlabelled rows with both inputs (alignment)

    def without(self, x: Any, image: Any, text: Any) -> Any:
        """Copy of ``x`` (torch or numpy) with the image of rows ``image`` and the text of rows
        ``text`` removed."""
        x = x.clone() if hasattr(x, "clone") else x.copy()
        di, dt = self.di, self.dt
        x[image, :di] = 0
        x[image, di + dt] = 0
        x[text, di : di + dt] = 0
        x[text, di + dt + 1] = 0
        return x

    def both(self, x: Any) -> Any:
        return (x[:, self.di + self.dt] > 0) & (x[:, self.di + self.dt + 1] > 0)

    def dropout(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        drop = self.both(x) & (torch.rand(len(x)) < self.cfg.modality_dropout)
        image = drop & (torch.rand(len(x)) < 0.5)
        return self.without(x, image, drop & ~image)

    def loss(
        self, net: _Net, x: torch.Tensor, y: torch.Tensor, trip: np.ndarray, kind: np.ndarray
    ) -> torch.Tensor:
        import torch

        cfg = self.cfg
        view = self.dropout if cfg.modality_dropout > 0 else None
        total = _triplet_loss(net, x, y, trip, kind, cfg.margin, view)
        if cfg.align_weight <= 0:
            return total
        rows = x[torch.from_numpy(np.unique(trip[:, 0]))]
        rows = rows[self.both(rows)]
        if self.pairs is not None and len(self.pairs):  # as many other-collection pairs
            pick = torch.randint(len(self.pairs), (max(len(rows), 1),))
            rows = torch.cat([rows, self.pairs[pick]])
        if len(rows) < 2:
            return total
        every = torch.ones(len(rows), dtype=torch.bool)
        none = ~every
        zi = net(self.without(rows, none, every))  # image only
        zt = net(self.without(rows, every, none))  # text only
        logits = zi @ zt.T / cfg.temperature
        target = torch.arange(len(rows))
        ce = torch.nn.functional.cross_entropy
        return total + cfg.align_weight * (ce(logits, target) + ce(logits.T, target)) / 2

    def val_score(self, net: _Net, x: np.ndarray, trip: np.ndarray) -> float:
        """Mean held-out triplet accuracy of image-only, text-only and full queries against
        the items' full vectors, and of text-only queries against image-only items (pictures
        without text found by words); queries with both inputs."""
        if not len(trip):
            return float("nan")
        items = net.embed_numpy(x)
        paired = trip[self.both(x)[trip[:, 0]]]
        if not len(paired):  # no held-out query has both inputs: the full view alone
            return _triplet_acc(items, trip)
        trip = paired
        every = np.ones(len(x), bool)
        image = net.embed_numpy(self.without(x, ~every, every))
        text = net.embed_numpy(self.without(x, every, ~every))
        pairs = ((image, items), (text, items), (items, items), (text, image))  # query, items
        return float(np.mean([_cross_acc(q, i, trip) for q, i in pairs]))


def _cross_acc(zq: np.ndarray, zi: np.ndarray, trip: np.ndarray) -> float:
    """Share of triplets with ``D(zq[q], zi[p]) < D(zq[q], zi[n])``."""
    q, p, n = trip[:, 0], trip[:, 1], trip[:, 2]
    dp = np.linalg.norm(zq[q] - zi[p], axis=1)
    dn = np.linalg.norm(zq[q] - zi[n], axis=1)
    return float(np.mean(dp < dn))


def _spec(features: Features, use_text: bool, classes: list[str] | None) -> InputSpec:
    if features.image is None:
        raise ValueError("the ranking head needs image embeddings; these features have none")
    if use_text and features.text.get("text") is None:
        raise ValueError("use_text=True needs the 'text' embedding; these features have none")
    return InputSpec(
        image_encoder=features.image_encoder,
        text_encoder=features.text_encoder if use_text else None,
        image_dim=features.image_dim,
        text_dim=int(features.text["text"].shape[1]) if use_text else 0,
        classes=list(classes or []),
    )


def _validation_triplets(y: np.ndarray, seed: int, n: int = 5000) -> np.ndarray:
    """Fixed held-out triplets: same-class positive, uniform out-of-class negative."""
    try:
        trip, _ = sample_triplets(
            y, np.random.default_rng(seed + 1), n=n, out_of_class_frac=1.0, hard_negatives=False
        )
    except ValueError:
        return np.zeros((0, 3), np.int64)
    return trip


def _triplet_acc(z: np.ndarray, trip: np.ndarray) -> float:
    from pictext.rank.metrics import triplet_accuracy

    return triplet_accuracy(z, trip)
