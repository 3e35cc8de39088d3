"""The fusion classifier: image + title + description + tags embeddings -> class.

One class covers the study's three model shapes: image-only (``inputs=("image",)``),
text-only (``("title", "description", "tags")``) and fusion (all of them).

Features whose arrays are memory-mapped (``np.load(path, mmap_mode="r")``: more rows than
memory holds) train through the same loop in streamed minibatches: the rows are read one
chunk at a time (:func:`pictext.core.train.epoch_order`, :func:`~pictext.core.train.read_rows`),
the normalisation is measured chunk by chunk, and predictions are made chunk by chunk.
In-memory features are one chunk, so both read the data the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.classify.calibration import fit_temperature, softmax
from pictext.core import defaults
from pictext.core.artifacts import (
    CLASSIFIER,
    load_artifact,
    load_module_arrays,
    module_arrays,
    save_artifact,
)
from pictext.core.train import CHUNK_ROWS, read_rows
from pictext.store.inputs import (
    FUSION,
    EncoderMismatchError,
    check_encoders,
    input_array,
    validate_inputs,
)

if TYPE_CHECKING:
    import torch

    from pictext.classify.net import FusionNet
    from pictext.core.train import History
    from pictext.store.features import Features


@dataclass
class FusionConfig:
    """Hyperparameters of :class:`FusionClassifier`."""

    inputs: tuple[str, ...] = FUSION  # which embeddings the model reads
    tune_dim: int = 256  # width of each text input's dense tuning layer
    image_tune_dim: int = 256  # width of the image tuning layer (0: image passed through)
    hidden: int = 512  # dense layer after concatenation (0: linear classifier on it)
    dropout: float = 0.5  # dropout after concatenation and after the hidden layer
    input_dropout: float = 0.2  # dropout on each standardised input embedding
    modality_dropout: float = 0.3  # per row: P(drop image) = P(drop all text), exclusive
    field_dropout: float = 0.2  # per row and text input: P(drop that input)
    label_smoothing: float = 0.1  # cross-entropy label smoothing
    aux_weight: float = 1.0  # weight of per-modality auxiliary losses (image / text branch alone)
    combine: str = "aux_missing"  # with aux heads: fused | aux_missing | sum (see FusionNet)
    optimizer: str = "adamw"  # adamw | nadam | adamax | adagrad
    lr: float = 1e-3  # learning rate
    weight_decay: float = 1e-2  # weight decay
    epochs: int = defaults.FUSION_EPOCHS  # maximum epochs
    patience: int = defaults.FUSION_PATIENCE  # early-stopping patience on validation top-1
    batch_size: int = 64  # training batch size
    seed: int = 0  # seeds weights, shuffling and modality dropout
    progress: bool = False  # show a progress bar while fitting
    chunk_rows: int = 0  # rows read at a time; 0: all when in memory, 65536 when memory-mapped


class FusionClassifier:
    """Classifier over cached embeddings with per-input tuning layers and missing inputs.

    Args:
        config: hyperparameters; keyword arguments override its fields.
        **overrides: any :class:`FusionConfig` field, e.g. ``inputs=("image",)``.

    Example:
        >>> import numpy as np
        >>> from pictext.store.features import Features
        >>> rng = np.random.default_rng(0)
        >>> y = np.repeat([0, 1], 20)
        >>> f = Features(ids=[str(i) for i in range(40)],
        ...              image=(rng.normal(size=(40, 8)) + y[:, None]).astype(np.float32),
        ...              image_mask=np.ones(40, bool), image_encoder="toy@1")
        >>> clf = FusionClassifier(inputs=("image",), epochs=30, hidden=16, image_tune_dim=8)
        >>> clf = clf.fit(f, y, classes=["a", "b"])
        >>> clf.predict_proba(f).shape
        (40, 2)
    """

    def __init__(self, config: FusionConfig | None = None, **overrides: Any) -> None:
        cfg = dataclasses.replace(config or FusionConfig(), **overrides)
        cfg.inputs = validate_inputs(cfg.inputs)
        self.config = cfg
        self.classes_: list[str] = []
        self.input_dims_: dict[str, int] = {}
        self.image_encoder_: str | None = None
        self.text_encoder_: str | None = None
        self.temperature_: float = 1.0
        self.trained_inputs_: tuple[str, ...] = cfg.inputs  # what training rows had (fit)
        self.history_: History | None = None
        self.net_: FusionNet | None = None

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        feats: Features,
        y: np.ndarray,
        val_feats: Features | None = None,
        y_val: np.ndarray | None = None,
        *,
        classes: Sequence[str] | None = None,
    ) -> FusionClassifier:
        """Train on ``feats`` (class indices ``y``), early-stopping on validation top-1.

        Args:
            feats: training embeddings.
            y: class index per training row (int).
            val_feats: validation embeddings; without them all ``epochs`` are run.
            y_val: class index per validation row.
            classes: class names (index -> name); default ``"0", "1", ...``.

        Returns:
            self.
        """
        import torch

        from pictext.classify.net import drop_modalities
        from pictext.core.budget import scaled_batch, scaled_epochs, scaled_patience
        from pictext.core.train import LoopConfig, config_from, epoch_order, train_loop

        cfg = self.config
        y = np.asarray(y, dtype=np.int64)
        if len(y) != feats.n:
            raise ValueError(f"{feats.n} feature rows but {len(y)} labels")
        n_classes = len(classes) if classes is not None else int(y.max()) + 1
        self.classes_ = list(classes) if classes is not None else [str(i) for i in range(n_classes)]
        self.image_encoder_, self.text_encoder_ = feats.image_encoder, feats.text_encoder
        self.input_dims_ = _input_dims(feats, cfg.inputs)
        torch.manual_seed(cfg.seed)
        self.net_ = self._build_net(n_classes)
        arrays = self._arrays(feats)
        # the inputs present in at least one training row: the others it never learnt from
        self.trained_inputs_ = tuple(n for n in cfg.inputs if bool(arrays[n][1].any()))
        chunk = self._chunk_rows(arrays, feats.n)
        for name in cfg.inputs:
            self.net_.set_normalisation(name, *_mean_std(arrays[name], chunk))
        yt = torch.from_numpy(y)
        gen = torch.Generator().manual_seed(cfg.seed)
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

        batch_size = scaled_batch(feats.n, cfg.batch_size)  # grows with the rows (core/budget)

        def batches(epoch: int) -> Iterator[_Batch]:
            for rows, parts in epoch_order(feats.n, batch_size, gen, chunk):
                x, m = _chunk_tensors(arrays, rows)
                for idx in parts:
                    yield x, m, yt[rows], idx

        def batch_loss(batch: _Batch) -> torch.Tensor:
            x, m, yc, idx = batch
            mb = drop_modalities(
                {k: v[idx] for k, v in m.items()}, cfg.modality_dropout, cfg.field_dropout, gen
            )
            logits, aux = self.net_.forward_with_aux({k: v[idx] for k, v in x.items()}, mb)
            loss = loss_fn(logits, yc[idx])
            for branch, out in aux.items():
                # only rows where the branch has real input teach its auxiliary head
                has = mb["image"] if branch == "image" else _any_text(mb)
                if bool(has.any()):
                    loss = loss + cfg.aux_weight * loss_fn(out[has], yc[idx][has])
            return loss

        val_score = None
        if val_feats is not None and y_val is not None and len(y_val):
            yv = np.asarray(y_val, dtype=np.int64)
            val_score = lambda: float((self._logits(val_feats).argmax(1) == yv).mean())  # noqa: E731
        loop = config_from(
            LoopConfig, cfg, desc="fusion", epochs=scaled_epochs(feats.n, cfg.epochs),
            patience=scaled_patience(feats.n, cfg.epochs, cfg.patience),
        )  # fmt: skip
        self.history_ = train_loop(self.net_, batches, batch_loss, loop, val_score=val_score)
        self.temperature_ = 1.0
        return self

    def calibrate(self, val_feats: Features, y_val: np.ndarray) -> FusionClassifier:
        """Fit the softmax temperature on validation data (temperature scaling)."""
        self.temperature_ = fit_temperature(self.decision_function(val_feats), np.asarray(y_val))
        return self

    # ---------------------------------------------------------------- inference
    def decision_function(self, feats: Features) -> np.ndarray:
        """Logits ``[N, C]`` (before temperature)."""
        import torch

        with torch.no_grad():
            return self._logits(feats).astype(np.float64)

    def predict_proba(self, feats: Features) -> np.ndarray:
        """Class probabilities ``[N, C]`` (temperature-scaled once :meth:`calibrate` ran)."""
        return softmax(self.decision_function(feats), self.temperature_)

    def predict(self, feats: Features) -> np.ndarray:
        """Most likely class index per row (names: ``classes_[i]``)."""
        return self.decision_function(feats).argmax(axis=1)

    def embed(self, feats: Features, layer: str = "fusion") -> np.ndarray:
        """Internal representations: ``"fusion"`` (what the classifier reads) or
        ``"tuned:<input>"`` (one input after its tuning layer)."""
        import torch

        net = self._fitted()
        x, m = self._tensors(feats)
        with torch.no_grad():
            if layer == "fusion":
                return net.fusion(x, m).numpy()
            name = layer.removeprefix("tuned:")
            if layer.startswith("tuned:") and name in net.names:
                return net.tuned(x, m)[name].numpy()
        raise ValueError(
            f"unknown layer {layer!r}; use 'fusion' or one of {['tuned:' + n for n in net.names]}"
        )

    # ---------------------------------------------------------------- persistence
    def save(
        self,
        directory: str | Path,
        *,
        extra: Mapping[str, Any] | None = None,
        extra_files: Mapping[str, Callable[[Path], object]] | None = None,
    ) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (atomically).

        Args:
            directory: the model's folder.
            extra: more ``config.json`` entries (e.g. a routed model's ``routing``).
            extra_files: nested files or folders written in the same atomic write (see
                :func:`~pictext.core.artifacts.save_artifact`).
        """
        net = self._fitted()
        config = {
            "config": dataclasses.asdict(self.config),
            "classes": self.classes_,
            "input_dims": self.input_dims_,
            "image_encoder": self.image_encoder_,
            "text_encoder": self.text_encoder_,
            "temperature": self.temperature_,
            "trained_inputs": list(self.trained_inputs_),
            "history": self.history_.to_dict() if self.history_ else None,
            **(extra or {}),
        }
        return save_artifact(
            directory, CLASSIFIER, config, module_arrays(net), extra_files=extra_files
        )

    @classmethod
    def load(cls, directory: str | Path) -> FusionClassifier:
        """Read a model written by :meth:`save`.

        Raises:
            ArtifactError: not a saved classifier of this version (the message says why).
        """
        meta, arrays = load_artifact(directory, CLASSIFIER)
        cfg = meta["config"]
        cfg["inputs"] = tuple(cfg["inputs"])
        self = cls(FusionConfig(**cfg))
        self.classes_ = list(meta["classes"])
        self.input_dims_ = {k: int(v) for k, v in meta["input_dims"].items()}
        self.image_encoder_, self.text_encoder_ = meta["image_encoder"], meta["text_encoder"]
        self.temperature_ = float(meta["temperature"])
        self.net_ = self._build_net(len(self.classes_))
        load_module_arrays(self.net_, arrays, directory, CLASSIFIER)
        self.net_.eval()
        recorded = meta.get("trained_inputs")
        self.trained_inputs_ = (
            tuple(recorded) if recorded is not None else _trained_from_normalisation(self.net_)
        )
        return self

    @property
    def unseen_inputs(self) -> tuple[str, ...]:
        """Inputs the model reads but never saw in training (no training row had them)."""
        return tuple(n for n in self.config.inputs if n not in self.trained_inputs_)

    # ---------------------------------------------------------------- helpers
    def _build_net(self, n_classes: int) -> FusionNet:
        from pictext.classify.net import FusionNet

        c = self.config
        return FusionNet(
            self.input_dims_, n_classes, c.tune_dim, c.image_tune_dim, c.hidden,
            c.dropout, c.input_dropout, aux_heads=c.aux_weight > 0, combine=c.combine,
        )  # fmt: skip

    def _fitted(self) -> FusionNet:
        if self.net_ is None:
            raise RuntimeError("this FusionClassifier is not fitted; call fit() or load() first")
        return self.net_

    def _logits(self, feats: Features) -> np.ndarray:
        """Logits ``[N, C]`` computed chunk by chunk (the caller turns gradients off)."""
        net = self._fitted()
        arrays = self._arrays(feats)
        chunk = self._chunk_rows(arrays, feats.n)
        parts = [
            net(*_chunk_tensors(arrays, slice(s, s + chunk))).numpy()
            for s in range(0, feats.n, chunk)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes_)), np.float32)

    def _arrays(self, feats: Features) -> dict[str, _Input]:
        """Per input: ``(rows or None, mask, width)``, the rows as stored (not copied)."""
        check_encoders(feats, self.config.inputs, self.image_encoder_, self.text_encoder_)
        out = {}
        for name in self.config.inputs:
            dim = self.input_dims_[name]
            if name == "image":
                arr, mask = feats.image, feats.image_mask
            else:
                arr, mask = feats.text.get(name), feats.text_mask.get(name)
            if arr is not None and arr.shape[1] != dim:
                raise EncoderMismatchError(
                    f"input {name!r} has width {arr.shape[1]}, the model expects {dim}"
                )
            if arr is None:
                mask = np.zeros(feats.n, bool)
            elif mask is None:
                mask = np.ones(feats.n, bool)
            out[name] = (arr, np.asarray(mask, bool), dim)
        return out

    def _chunk_rows(self, arrays: dict[str, _Input], n: int) -> int:
        if self.config.chunk_rows > 0:
            return self.config.chunk_rows
        mapped = any(getattr(a, "_mmap", None) is not None for a, _, _ in arrays.values())
        return CHUNK_ROWS if mapped else max(n, 1)

    def _tensors(self, feats: Features) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        import torch

        check_encoders(feats, self.config.inputs, self.image_encoder_, self.text_encoder_)
        x, m = {}, {}
        for name in self.config.inputs:
            arr, mask = input_array(feats, name, self.input_dims_.get(name))
            x[name], m[name] = torch.from_numpy(arr), torch.from_numpy(mask)
        return x, m


_Input = tuple[Any, np.ndarray, int]  # rows (array-like, None when absent), mask, width
_Batch = tuple[dict[str, Any], dict[str, Any], Any, Any]  # chunk rows, masks, labels, positions


def _chunk_tensors(
    arrays: dict[str, _Input], rows: slice
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Tensors of one chunk of rows: an absent input is zeros with a False mask."""
    import torch

    x, m = {}, {}
    for name, (arr, mask, dim) in arrays.items():
        part = mask[rows]
        if arr is None:
            x[name] = torch.zeros((len(part), dim))
        else:
            x[name] = torch.from_numpy(read_rows(arr, rows))
        m[name] = torch.from_numpy(part)
    return x, m


def _any_text(m: dict[str, torch.Tensor]) -> torch.Tensor:
    import torch

    return torch.stack([v for k, v in m.items() if k != "image"]).any(dim=0)


def _input_dims(feats: Features, inputs: Sequence[str]) -> dict[str, int]:
    dims = {}
    for name in inputs:
        arr = feats.image if name == "image" else feats.text.get(name)
        if arr is None:
            raise ValueError(
                f"training features have no {name!r} input; embed it or drop it from inputs"
            )
        dims[name] = int(arr.shape[1])
    return dims


def _trained_from_normalisation(net: FusionNet) -> tuple[str, ...]:
    """The inputs a model saved before ``trained_inputs`` was recorded saw in training.

    An input absent from every training row was standardised over all-zero rows: mean 0 and
    every standard deviation at the floor of :func:`_mean_std` (1e-3). A real input never
    has all of its widths at exactly that floor.
    """
    floor = np.float32(1e-3)
    seen = []
    for name in net.names:
        mean = getattr(net, f"mean_{name}").numpy()
        std = getattr(net, f"std_{name}").numpy()
        if not (np.all(mean == 0) and np.all(std == floor)):
            seen.append(name)
    return tuple(seen)


def _mean_std(source: _Input, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of an input's real rows (all rows when none is real),
    accumulated chunk by chunk in float64."""
    import torch

    arr, mask, dim = source
    use_all = not mask.any()
    total, square, count = np.zeros(dim), np.zeros(dim), 0
    if arr is not None:
        for s in range(0, len(mask), chunk):
            rows = slice(s, s + chunk)
            part = read_rows(arr, rows, np.float64)
            part = part if use_all else part[mask[rows]]
            total += part.sum(axis=0)
            square += (part * part).sum(axis=0)
            count += len(part)
    else:
        count = len(mask)  # all-zero rows
    mean = total / max(count, 1)
    var = np.maximum(square / max(count, 1) - mean * mean, 0.0)
    std = np.sqrt(var) if count > 1 else np.ones(dim)
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(
        np.maximum(std, 1e-3).astype(np.float32)
    )
