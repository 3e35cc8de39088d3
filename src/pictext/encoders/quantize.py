"""int8 image towers: ONNX Runtime static quantization (QDQ, per-channel weights).

The fp32 export is quantized once and cached beside it (a name of its own, a version of its
own). Activation ranges come from real images of the packaged collections (tuxpaint stamps
and openclipart drawings, :data:`CALIBRATION_SETS`), a fixed, sorted subset of each, with
MinMax calibration: no randomness and no network, so the same file comes out every time.

Writing follows :mod:`pictext.encoders.onnx_runtime`: a temporary file in the same folder,
checked against the fp32 graph on other packaged images, renamed only when it agrees.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pictext.core.atomic import remove_stale_temporaries
from pictext.encoders._deps import require
from pictext.encoders.onnx_runtime import make_session

# Bump when the quantization recipe changes (calibration images, method, fp32 nodes, checks):
# part of the int8 encoders' version, so their cache keys change with it.
QUANT_VERSION = 1
CALIBRATION_SETS = ("tuxpaint", "openclipart")  # packaged collections the ranges come from
CALIBRATION_PER_SET = 64  # images taken from each set for calibration
CHECK_PER_SET = 16  # other images of each set for the parity check of the written file
MIN_CHECK_COSINE = 0.95  # mean cosine int8 vs fp32 below which the file is refused


class QuantizationError(RuntimeError):
    """The quantized graph does not reproduce the fp32 graph well enough; nothing was cached."""


@dataclass(frozen=True)
class QuantSpec:
    """What to quantize and how to read its input and output."""

    input_name: str  # the graph's image input
    output_name: str  # the graph's feature output
    batch_size: int = 16  # images per calibration call
    float_nodes: tuple[str, ...] = ()  # graph nodes left in fp32 (the most sensitive ones)


def pick_images(
    sets: Sequence[str] = CALIBRATION_SETS,
    per_set: int = CALIBRATION_PER_SET,
    check: int = CHECK_PER_SET,
) -> tuple[list[Any], list[Any]]:
    """Calibration items and check items: an evenly spaced subset of each sorted set.

    Deterministic: the items of each set are sorted by id and every k-th one is taken; the
    check items are the ones halfway between two calibration items, so the two lists never
    share an image.

    Raises:
        QuantizationError: If a set is missing or too small.
    """
    from pictext.data import load_dataset
    from pictext.data.errors import DatasetNotFoundError

    calibrate, held = [], []
    for name in sets:
        try:
            items = sorted(load_dataset(name).items, key=lambda it: it.id)
        except DatasetNotFoundError as err:  # say which sets the recipe needs
            raise QuantizationError(
                f"calibration set {name!r} is not available ({err}); int8 encoders calibrate "
                f"on the packaged collections {', '.join(sets)}"
            ) from err
        if len(items) < 2 * (per_set + check):
            raise QuantizationError(f"calibration set {name!r} has only {len(items)} images")
        step = len(items) // per_set
        calibrate += items[: step * per_set : step]
        held += items[step // 2 : step * check : step]
    return calibrate, held


def _batches(pixels: np.ndarray, spec: QuantSpec) -> Iterator[dict[str, np.ndarray]]:
    for start in range(0, len(pixels), spec.batch_size):
        yield {spec.input_name: pixels[start : start + spec.batch_size]}


class _Reader:
    """The ``CalibrationDataReader`` protocol over ready float32 batches."""

    def __init__(self, pixels: np.ndarray, spec: QuantSpec) -> None:
        self._it = _batches(pixels, spec)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean row-wise cosine similarity of two ``[N, D]`` arrays."""
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(num / np.maximum(den, 1e-12)))


def _features(path: Path, pixels: np.ndarray, spec: QuantSpec) -> np.ndarray:
    session = make_session(path)
    return np.concatenate([session.run([spec.output_name], b)[0] for b in _batches(pixels, spec)])


def _check_nodes(path: Path, names: Sequence[str]) -> None:
    """ONNX Runtime skips unknown names in ``nodes_to_exclude``: refuse them instead."""
    import onnx

    known = {node.name for node in onnx.load(str(path)).graph.node}
    missing = sorted(set(names) - known)
    if missing:
        raise QuantizationError(f"nodes to keep in fp32 not in the graph: {', '.join(missing)}")


def quantize_checked(
    fp32: Path,
    dst: Path,
    calibration: np.ndarray,
    check: np.ndarray,
    spec: QuantSpec,
    min_cosine: float = MIN_CHECK_COSINE,
) -> float:
    """Quantize ``fp32`` into ``dst`` (atomically) and check it on ``check`` images.

    Static QDQ quantization: weights int8 per output channel, activations uint8 per tensor
    with MinMax ranges from ``calibration``; ``spec.float_nodes`` stay fp32.

    Args:
        fp32: The exported fp32 ``.onnx`` file.
        dst: Destination of the int8 graph; its folder is created.
        calibration: Preprocessed float32 ``[N, 3, S, S]`` images for the ranges.
        check: Other preprocessed images on which int8 must agree with fp32.
        spec: Input and output names.
        min_cosine: Mean cosine to fp32 below which the file is not cached.

    Returns:
        The mean cosine int8 vs fp32 on ``check``.

    Raises:
        QuantizationError: If the int8 graph agrees less than ``min_cosine``.
    """
    quant = require("onnxruntime.quantization", "onnxruntime", purpose="int8 quantization")
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(dst.parent, pattern="*.onnx.tmp")
    made: list[Path] = []

    def temp(tag: str) -> Path:
        fd, name = tempfile.mkstemp(prefix=f"{dst.stem}.{tag}.", suffix=".onnx.tmp", dir=dst.parent)
        os.close(fd)
        made.append(Path(name))
        return made[-1]

    try:
        pre, out = temp("pre"), temp("q")
        # Shape inference and graph optimisation first, as ONNX Runtime recommends.
        quant.shape_inference.quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        _check_nodes(pre, spec.float_nodes)
        quant.quantize_static(
            str(pre),
            str(out),
            _Reader(calibration, spec),
            quant_format=quant.QuantFormat.QDQ,
            per_channel=True,
            activation_type=quant.QuantType.QUInt8,
            weight_type=quant.QuantType.QInt8,
            calibrate_method=quant.CalibrationMethod.MinMax,
            nodes_to_exclude=list(spec.float_nodes),
        )
        cosine = mean_cosine(_features(fp32, check, spec), _features(out, check, spec))
        if not np.isfinite(cosine) or cosine < min_cosine:
            raise QuantizationError(
                f"int8 graph of {fp32.name} agrees with fp32 at mean cosine {cosine:.4f} "
                f"(needed {min_cosine}); the file was not cached"
            )
        os.replace(out, dst)
    finally:
        for path in made:
            path.unlink(missing_ok=True)
    return cosine


def build_int8(
    fp32: Path,
    dst: Path,
    pixels_of: Callable[[Sequence[Any]], np.ndarray],
    spec: QuantSpec,
) -> float:
    """Quantize an image tower, calibrated and checked on the packaged collections.

    Args:
        fp32: The exported fp32 graph.
        dst: Where the int8 graph goes.
        pixels_of: Items -> the tower's preprocessed float32 batch.
        spec: Input and output names.

    Returns:
        The mean cosine int8 vs fp32 on the check images.
    """
    calibrate, held = pick_images()
    return quantize_checked(fp32, dst, pixels_of(calibrate), pixels_of(held), spec)
