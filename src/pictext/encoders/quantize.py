"""int8 image towers: ONNX Runtime static quantization (QDQ, per-channel weights).

The fp32 export is quantized once and cached beside it (a name of its own, a version of its
own). Activation ranges are MinMax ranges over real images of the packaged collections
(tuxpaint stamps and openclipart drawings, :data:`CALIBRATION_SETS`), a fixed, sorted subset
of each: no randomness and no network, so the same file comes out every time.

Those ranges ship with pictext (``encoders/ranges/<encoder>.json``, keyed by the int8
encoder's full version, which carries the weights digest, ``PREPROC_VERSION``,
``EXPORT_VERSION`` and :data:`QUANT_VERSION`), so a machine without the collections builds
the same int8 graph: ONNX Runtime reads them as its calibration cache
(``quantize_static(calibration_cache_path=...)``) instead of calibrating. When the shipped
file is for another version (a recipe changed), the tower is calibrated live if the
collections are installed, else it is refused with the command that regenerates the file::

    python -m pictext.encoders.quantize --write-ranges efficientnet-lite0

Writing follows :mod:`pictext.encoders.onnx_runtime`: a temporary file in the same folder,
checked against the fp32 graph, renamed only when it agrees. The check runs on other images
of the packaged collections when they are installed (mean cosine >= :data:`MIN_CHECK_COSINE`);
without them on generated drawings (:mod:`pictext.encoders.synthetic`), against
:data:`MIN_SYNTHETIC_COSINE`, a bar set from measurement (see there).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pictext.core.atomic import atomic_write_json, remove_stale_temporaries
from pictext.core.errors import StateError
from pictext.encoders._deps import require
from pictext.encoders.onnx_runtime import make_session

# Bump when the quantization recipe changes (calibration images, method, fp32 nodes, checks):
# part of the int8 encoders' version, so their cache keys change with it.
QUANT_VERSION = 1
CALIBRATION_SETS = ("tuxpaint", "openclipart")  # packaged collections the ranges come from
CALIBRATION_PER_SET = 64  # images taken from each set for calibration
CHECK_PER_SET = 16  # other images of each set for the parity check of the written file
MIN_CHECK_COSINE = 0.95  # mean cosine int8 vs fp32 on the check images below which: refused
SYNTHETIC_CHECK = 32  # generated drawings checked when the collections are not installed
# Mean cosine int8 vs fp32 on the generated drawings below which the file is refused. Measured
# on 32 drawings (2026-12-01): the shipped ranges give 0.995 (Lite0 and Lite2; 0.993 / 0.995
# on the real check images); ranges calibrated on the same images preprocessed the wrong way
# (x / 255 instead of (x - 127) / 128, a stale PREPROC_VERSION's kind of error) give 0.896 /
# 0.908 (0.845 / 0.862 on real images). The bar sits between, nearer the right ranges.
MIN_SYNTHETIC_COSINE = 0.97
RANGES_DIR = Path(__file__).with_name("ranges")  # the shipped ranges, one JSON per encoder
REGENERATE = "python -m pictext.encoders.quantize --write-ranges {name}"


class QuantizationError(StateError, RuntimeError):
    """The int8 graph cannot be built or does not reproduce fp32 well enough; nothing cached."""


@dataclass(frozen=True)
class QuantSpec:
    """What to quantize and how to read its input and output."""

    input_name: str  # the graph's image input
    output_name: str  # the graph's feature output
    batch_size: int = 16  # images per calibration call
    float_nodes: tuple[str, ...] = ()  # graph nodes left in fp32 (the most sensitive ones)


@dataclass(frozen=True)
class Quantized:
    """What :func:`quantize_checked` wrote."""

    cosine: float  # mean cosine int8 vs fp32 on the check images
    ranges: dict[str, tuple[float, float]]  # activation ranges used: tensor -> (lowest, highest)


class Tower(Protocol):
    """What :func:`build_int8` needs of an image encoder."""

    name: str  # the int8 encoder's registry name
    version: str  # its full version (the key of its shipped ranges)
    image_size: int  # input side in pixels

    def preprocess_batch(self, images: Sequence[Any]) -> np.ndarray:
        """Decoded images -> float32 ``[N, 3, S, S]``."""
        ...


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


def pixels_of_items(tower: Tower, items: Sequence[Any]) -> np.ndarray:
    """The readable items' preprocessed batch (an SVG that does not render is left out)."""
    from pictext.data.errors import ItemError
    from pictext.data.images import load_image

    images = []
    for item in items:
        try:
            images.append(load_image(item, size=tower.image_size))
        except ItemError:
            continue
    return tower.preprocess_batch(images)


def ranges_path(name: str, folder: Path = RANGES_DIR) -> Path:
    """Where the shipped activation ranges of the int8 encoder ``name`` live."""
    return folder / f"{name}.json"


def shipped_ranges(
    name: str, version: str, folder: Path = RANGES_DIR
) -> dict[str, tuple[float, float]] | None:
    """The shipped ranges of ``name`` if they were computed for ``version``, else None."""
    path = ranges_path(name, folder)
    if not path.is_file():
        return None
    payload = json.loads(path.read_text(encoding="utf-8"))
    if payload.get("encoder") != name or payload.get("version") != version:
        return None
    return {k: (float(lo), float(hi)) for k, (lo, hi) in payload["tensors"].items()}


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


def _graph_names(path: Path) -> tuple[set[str], set[str]]:
    """Node names and tensor names (node inputs and outputs) of an ONNX graph."""
    import onnx

    graph = onnx.load(str(path)).graph
    tensors = {name for node in graph.node for name in (*node.input, *node.output)}
    return {node.name for node in graph.node}, tensors


def _save_cache(ranges: Mapping[str, tuple[float, float]], path: Path) -> None:
    """Write ``ranges`` as ONNX Runtime's calibration cache (float32, exactly as calibrated)."""
    from onnxruntime.quantization.calibrate import (
        CalibrationMethod,
        TensorsData,
        save_tensors_data,
    )

    data = {k: (np.float32(lo), np.float32(hi)) for k, (lo, hi) in ranges.items()}
    save_tensors_data(TensorsData(CalibrationMethod.MinMax, data), path)


def _load_cache(path: Path) -> dict[str, tuple[float, float]]:
    from onnxruntime.quantization.calibrate import load_tensors_data

    out = {}
    for name, data in load_tensors_data(path).items():
        lo, hi = (np.asarray(v, dtype=np.float32) for v in data.range_value)
        if lo.size != 1 or hi.size != 1:
            raise QuantizationError(f"tensor {name!r} has a per-channel range; expected one")
        out[name] = (float(lo.item()), float(hi.item()))  # float32 -> double: exact
    return dict(sorted(out.items()))


def quantize_checked(
    fp32: Path,
    dst: Path,
    calibration: np.ndarray | Mapping[str, tuple[float, float]],
    check: np.ndarray,
    spec: QuantSpec,
    min_cosine: float = MIN_CHECK_COSINE,
) -> Quantized:
    """Quantize ``fp32`` into ``dst`` (atomically) and check it on ``check`` images.

    Static QDQ quantization: weights int8 per output channel, activations uint8 per tensor
    with MinMax ranges; ``spec.float_nodes`` stay fp32.

    Args:
        fp32: The exported fp32 ``.onnx`` file.
        dst: Destination of the int8 graph; its folder is created.
        calibration: Preprocessed float32 ``[N, 3, S, S]`` images to compute the ranges on,
            or ranges computed before (``Quantized.ranges``): the same ranges give the same
            file.
        check: Other preprocessed images on which int8 must agree with fp32.
        spec: Input and output names.
        min_cosine: Mean cosine to fp32 below which the file is not cached.

    Returns:
        The mean cosine int8 vs fp32 on ``check`` and the ranges used.

    Raises:
        QuantizationError: If given ranges name tensors the graph lacks, or if the int8 graph
            agrees less than ``min_cosine``.
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
        pre, out, cache = temp("pre"), temp("q"), temp("ranges")
        # Shape inference and graph optimisation first, as ONNX Runtime recommends.
        quant.shape_inference.quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        nodes, tensors = _graph_names(pre)
        missing = sorted(set(spec.float_nodes) - nodes)  # ORT would skip unknown names
        if missing:
            raise QuantizationError(f"nodes to keep in fp32 not in the graph: {', '.join(missing)}")
        reader = None
        if isinstance(calibration, np.ndarray):
            cache.unlink()  # no cache file: ONNX Runtime calibrates, then writes it there
            reader = _Reader(calibration, spec)
        else:
            unknown = sorted(set(calibration) - tensors)
            if unknown:
                raise QuantizationError(
                    f"activation ranges for tensors not in {fp32.name}: {', '.join(unknown[:3])}"
                )
            _save_cache(calibration, cache)
        quant.quantize_static(
            str(pre),
            str(out),
            reader,
            quant_format=quant.QuantFormat.QDQ,
            per_channel=True,
            activation_type=quant.QuantType.QUInt8,
            weight_type=quant.QuantType.QInt8,
            calibrate_method=quant.CalibrationMethod.MinMax,
            nodes_to_exclude=list(spec.float_nodes),
            calibration_cache_path=str(cache),
        )
        ranges = _load_cache(cache)
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
    return Quantized(cosine=cosine, ranges=ranges)


def build_int8(
    tower: Tower, fp32: Path, dst: Path, spec: QuantSpec, ranges_dir: Path | None = None
) -> Quantized:
    """Quantize an image tower with its shipped ranges, or calibrated live where they are stale.

    The check runs on the packaged collections when they are installed, else on
    :data:`SYNTHETIC_CHECK` generated drawings against :data:`MIN_SYNTHETIC_COSINE`.

    Args:
        tower: The int8 encoder (name, version, image size, preprocessing).
        fp32: Its exported fp32 graph.
        dst: Where the int8 graph goes.
        spec: Input and output names, fp32 nodes.
        ranges_dir: Where the shipped ranges are looked up (default :data:`RANGES_DIR`).

    Returns:
        The check's mean cosine and the ranges used.

    Raises:
        QuantizationError: If the shipped ranges are not for ``tower.version`` and the
            collections to calibrate on are not installed (the message names the command
            that regenerates them), or if the check fails.
    """
    ranges = shipped_ranges(tower.name, tower.version, ranges_dir or RANGES_DIR)
    try:
        calibrate, held = pick_images()
    except QuantizationError as err:
        if ranges is None:
            raise QuantizationError(
                f"{tower.name}: no activation ranges shipped for version {tower.version} and "
                f"no collections to calibrate on ({err}); regenerate them where the "
                f"collections are installed: {REGENERATE.format(name=tower.name)}"
            ) from err
        from pictext.encoders.synthetic import synthetic_images

        images = synthetic_images(SYNTHETIC_CHECK, tower.image_size, seed=0)
        check, bar = tower.preprocess_batch(images), MIN_SYNTHETIC_COSINE
    else:
        check, bar = pixels_of_items(tower, held), MIN_CHECK_COSINE
        if ranges is None:
            ranges = pixels_of_items(tower, calibrate)
    return quantize_checked(fp32, dst, ranges, check, spec, min_cosine=bar)


def write_ranges(tower: Tower, fp32: Path, spec: QuantSpec, folder: Path = RANGES_DIR) -> Path:
    """Calibrate ``tower`` live on the packaged collections and write its ranges file.

    The int8 graph is built in a temporary folder and checked as :func:`build_int8` does;
    only the ranges are kept.

    Returns:
        The written file.
    """
    calibrate, held = pick_images()
    with tempfile.TemporaryDirectory() as tmp:
        done = quantize_checked(
            fp32,
            Path(tmp) / "q.onnx",
            pixels_of_items(tower, calibrate),
            pixels_of_items(tower, held),
            spec,
        )
    path = ranges_path(tower.name, folder)
    payload = {
        "encoder": tower.name,
        "version": tower.version,
        "calibration": f"MinMax on {CALIBRATION_PER_SET} images of each of "
        f"{', '.join(CALIBRATION_SETS)}; written by {REGENERATE.format(name=tower.name)}",
        "check_mean_cosine": round(done.cosine, 4),
        "tensors": done.ranges,
    }
    atomic_write_json(path, payload)
    return path


def _int8_name(name: str) -> str:
    return name if name.endswith("-int8") else f"{name}-int8"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pictext.encoders.quantize --write-ranges NAME [NAME ...]``."""
    import argparse

    from pictext.encoders import create_encoder

    parser = argparse.ArgumentParser(prog="python -m pictext.encoders.quantize")
    parser.add_argument(
        "--write-ranges",
        nargs="+",
        metavar="ENCODER",
        required=True,
        help="image encoders (efficientnet-lite0 or efficientnet-lite0-int8) to calibrate live "
        "on the packaged collections; their ranges go to the shipped file",
    )
    parser.add_argument("--folder", type=Path, default=RANGES_DIR, help="where the files go")
    args = parser.parse_args(argv)
    for name in args.write_ranges:
        encoder = create_encoder(_int8_name(name))
        try:
            path = encoder.write_ranges(args.folder)
        except QuantizationError as err:
            parser.exit(1, f"error: {encoder.name}: {err}\n")
        print(f"{encoder.name}@{encoder.version}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
