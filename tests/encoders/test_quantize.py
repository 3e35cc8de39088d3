"""int8 towers: the quantization step on a tiny graph, the registry entries, the real tower."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from pictext.encoders import create_encoder, get_entry, list_encoders, quantize  # noqa: E402
from pictext.encoders.onnx_runtime import (  # noqa: E402
    BatchRunner,
    ExportSpec,
    export_checked,
    make_session,
)
from pictext.encoders.quantize import (  # noqa: E402
    MIN_SYNTHETIC_COSINE,
    QUANT_VERSION,
    REGENERATE,
    QuantizationError,
    QuantSpec,
    build_int8,
    mean_cosine,
    quantize_checked,
    ranges_path,
    shipped_ranges,
)

SPEC = ExportSpec(input_names=("x",), output_name="y", dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
QSPEC = QuantSpec(input_name="x", output_name="y", batch_size=4)
TUXPAINT = Path("/usr/share/tuxpaint/stamps")


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Conv2d(3, 8, 3, stride=2)
        self.b = torch.nn.Conv2d(8, 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.clamp(self.a(x), 0.0, 6.0)
        return torch.clamp(self.b(h), 0.0, 6.0).mean(dim=(2, 3))


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3, 16, 16)).astype(np.float32)


@pytest.fixture
def fp32(tmp_path: Path) -> Path:
    return export_checked(Tiny().eval(), [_images(2, 0)], tmp_path / "tiny.onnx", SPEC)


def test_quantized_graph_is_int8_close_and_deterministic(fp32: Path, tmp_path: Path) -> None:
    import onnx

    calib, check = _images(16, 1), _images(8, 2)
    first = quantize_checked(fp32, tmp_path / "a" / "q.onnx", calib, check, QSPEC).cosine
    quantize_checked(fp32, tmp_path / "b" / "q.onnx", calib, check, QSPEC)
    a, b = (tmp_path / d / "q.onnx" for d in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()  # same images in, same file out
    assert list(a.parent.iterdir()) == [a]  # no temporary file left
    ops = {n.op_type for n in onnx.load(str(a)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    weights = [
        t for t in onnx.load(str(a)).graph.initializer if t.data_type == onnx.TensorProto.INT8
    ]
    assert weights  # weights stored as int8
    x = _images(8, 3)
    want = make_session(fp32).run(["y"], {"x": x})[0]
    got = make_session(a).run(["y"], {"x": x})[0]
    assert mean_cosine(want, got) > 0.99
    assert 0.99 < first <= 1.0


def test_int8_batch_parts_are_bit_equal_to_one_call(fp32: Path, tmp_path: Path) -> None:
    dst = tmp_path / "q.onnx"
    quantize_checked(fp32, dst, _images(16, 1), _images(8, 2), QSPEC)
    session = make_session(dst, threads=2)
    x = _images(33, 4)
    whole = session.run(["y"], {"x": x})[0]
    np.testing.assert_array_equal(BatchRunner(session, "x", "y", parts=3).run(x), whole)


def test_failed_check_caches_nothing(fp32: Path, tmp_path: Path) -> None:
    dst = tmp_path / "q" / "q.onnx"
    with pytest.raises(QuantizationError, match="not cached"):
        quantize_checked(fp32, dst, _images(8, 1), _images(4, 2), QSPEC, min_cosine=1.5)
    assert list(dst.parent.iterdir()) == []


def test_fp32_nodes_stay_fp32_and_unknown_ones_are_refused(fp32: Path, tmp_path: Path) -> None:
    import onnx

    calib, check = _images(16, 1), _images(8, 2)
    names = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "Conv"]
    keep = QuantSpec("x", "y", batch_size=4, float_nodes=(names[0],))
    dst = quantize_checked(fp32, tmp_path / "k" / "q.onnx", calib, check, keep)
    assert dst.cosine > 0.99
    graph = onnx.load(str(tmp_path / "k" / "q.onnx")).graph
    conv = next(n for n in graph.node if n.name == names[0])
    floats = {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    assert conv.input[1] in floats  # its weight is still fp32
    wrong = QuantSpec("x", "y", float_nodes=("/no/such/Conv",))
    with pytest.raises(QuantizationError, match="/no/such/Conv"):
        quantize_checked(fp32, tmp_path / "w" / "q.onnx", calib, check, wrong)
    assert not (tmp_path / "w" / "q.onnx").exists()


class TinyTower:
    """The :class:`~pictext.encoders.quantize.Tower` protocol over the tiny graph."""

    name, version, image_size = "tiny-int8", "v2", 16

    def preprocess_batch(self, images: Sequence[Any]) -> np.ndarray:
        x = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) for im in images])
        return (x.transpose(0, 3, 1, 2) - 127.0) / 128.0


def _no_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    import pictext.data
    from pictext.data.errors import DatasetNotFoundError

    def missing(name: str, *args: Any, **kwargs: Any) -> Any:
        raise DatasetNotFoundError(f"dataset {name!r} is not installed")

    monkeypatch.setattr(pictext.data, "load_dataset", missing)


def _ship(folder: Path, ranges: dict, version: str = TinyTower.version) -> None:
    payload = {"encoder": TinyTower.name, "version": version, "tensors": ranges}
    ranges_path(TinyTower.name, folder).write_text(json.dumps(payload))


def test_shipped_ranges_rebuild_the_same_file_without_collections(
    fp32: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = quantize_checked(
        fp32, tmp_path / "live" / "q.onnx", _images(16, 1), _images(8, 2), QSPEC
    )
    _ship(tmp_path, live.ranges)
    _no_collections(monkeypatch)
    dst = tmp_path / "shipped" / "q.onnx"
    built = build_int8(TinyTower(), fp32, dst, QSPEC, ranges_dir=tmp_path)
    assert built.ranges == live.ranges  # float32 ranges survive the JSON round trip exactly
    assert dst.read_bytes() == (tmp_path / "live" / "q.onnx").read_bytes()
    assert MIN_SYNTHETIC_COSINE <= built.cosine <= 1.0  # checked on generated drawings


def test_stale_ranges_without_collections_name_the_encoder_and_the_command(
    fp32: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ship(tmp_path, {"y": (0.0, 1.0)}, version="v1")  # computed for an older version
    _no_collections(monkeypatch)
    dst = tmp_path / "q" / "q.onnx"
    with pytest.raises(QuantizationError) as err:
        build_int8(TinyTower(), fp32, dst, QSPEC, ranges_dir=tmp_path)
    message = str(err.value)
    assert message.startswith("tiny-int8: no activation ranges shipped for version v2")
    assert message.endswith(REGENERATE.format(name="tiny-int8"))
    assert "\n" not in message
    assert not dst.parent.exists() or list(dst.parent.iterdir()) == []


def test_stale_ranges_calibrate_live_where_the_collections_are(
    fp32: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pictext.data
    from pictext.data import Dataset, Item

    rng = np.random.default_rng(5)
    sets = {
        name: Dataset(name, [Item(f"{name}{i:03d}", pixels=_pixel_image(rng)) for i in range(160)])
        for name in quantize.CALIBRATION_SETS
    }
    monkeypatch.setattr(pictext.data, "load_dataset", lambda name, *a, **k: sets[name])
    _ship(tmp_path, {"y": (0.0, 1.0)}, version="v1")
    built = build_int8(TinyTower(), fp32, tmp_path / "q" / "q.onnx", QSPEC, ranges_dir=tmp_path)
    assert built.ranges != {"y": (0.0, 1.0)}  # the stale file was not used
    assert len(built.ranges) > 1
    assert built.cosine > 0.99


def _pixel_image(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)


def test_ranges_for_another_graph_are_refused(fp32: Path, tmp_path: Path) -> None:
    dst = tmp_path / "q" / "q.onnx"
    with pytest.raises(QuantizationError, match="/not/here"):
        quantize_checked(fp32, dst, {"/not/here": (0.0, 1.0)}, _images(4, 2), QSPEC)
    assert list(dst.parent.iterdir()) == []


@pytest.mark.parametrize("name", ["efficientnet-lite0-int8", "efficientnet-lite2-int8"])
def test_shipped_ranges_are_for_the_current_encoder_version(name: str) -> None:
    encoder = create_encoder(name)
    ranges = shipped_ranges(encoder.name, encoder.version)
    assert ranges, f"{name}@{encoder.version}: stale ranges, run {REGENERATE.format(name=name)}"


def test_int8_entries_have_their_own_name_and_version() -> None:
    assert {"efficientnet-lite0-int8", "efficientnet-lite2-int8"} <= set(list_encoders("image"))
    for lite in ("lite0", "lite2"):
        fp, q = create_encoder(f"efficientnet-{lite}"), create_encoder(f"efficientnet-{lite}-int8")
        assert get_entry(q.name).dim == fp.dim == q.dim == 1280
        assert q.image_size == fp.image_size
        assert q.version == f"{fp.version}-q{QUANT_VERSION}"
        assert q.onnx_path != fp.onnx_path
        assert q.fp32_path == fp.onnx_path  # quantized from the fp32 export, shared


def test_int8_needs_the_onnx_runtime() -> None:
    with pytest.raises(ValueError, match="runtime must be 'onnx'"):
        create_encoder("efficientnet-lite0-int8", runtime="torch")


@pytest.mark.slow
@pytest.mark.skipif(not TUXPAINT.is_dir(), reason="tuxpaint-stamps-default not installed")
def test_real_int8_tower_agrees_with_fp32(real_encoder: Callable[..., Any]) -> None:
    from PIL import Image

    fp, q = real_encoder("efficientnet-lite0"), real_encoder("efficientnet-lite0-int8")
    assert q.onnx_path.is_file()
    assert q.fp32_path == fp.onnx_path
    paths = sorted(TUXPAINT.glob("food/**/*.png"))[:24]
    images = [Image.open(p) for p in paths]
    a, b = fp.encode(images), q.encode(images)
    assert b.shape == (len(paths), 1280)
    assert b.dtype == np.float32
    assert mean_cosine(a, b) > 0.97
    # int8 is not a copy of fp32: the graphs really differ
    assert np.abs(a - b).max() > 1e-3
    one_call = real_encoder("efficientnet-lite0-int8", parts=1)  # no concurrent parts
    np.testing.assert_array_equal(one_call.encode(images), b)  # int8: parts are bit-equal
    stamp = q.onnx_path.stat().st_mtime_ns
    again = create_encoder("efficientnet-lite0-int8", cache_dir=q.onnx_path.parent)
    again.prepare()
    assert q.onnx_path.stat().st_mtime_ns == stamp  # cached: not quantized again


# Tolerances for "the graph built from the shipped ranges is the live calibrated graph". The
# shipped ranges were calibrated on another machine: the fp32 activations they come from differ
# there in their last bits (a scale of 0.44277328 against 0.44277325 on a fresh machine, 48 of
# 404 initializers, a relative difference of 7e-8), so bytes may differ while the graph does not.
# A stale or wrong calibration moves ranges by percent, far above these bars.
SCALE_RTOL = 1e-4  # float initializers (scales): ~1,000 float32 ulps, 100x under a real change
ZERO_POINT_ATOL = 1  # an integer rounded from a scale a few ulps apart may land one step over
MIN_ROW_COSINE = 0.999  # live vs shipped, per image; measured 0.9999999 (int8 vs fp32: 0.9916)
FP32_COSINE_SLACK = 1e-3  # the shipped graph agrees with fp32 at least as well as live, less this


def _initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def _nodes(path: Path) -> list[tuple[str, list[str], list[str]]]:
    import onnx

    graph = onnx.load(str(path)).graph
    return [(n.op_type, list(n.input), list(n.output)) for n in graph.node]


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


@pytest.mark.slow
@pytest.mark.skipif(not TUXPAINT.is_dir(), reason="tuxpaint-stamps-default not installed")
def test_real_int8_from_shipped_ranges_is_the_live_calibrated_graph(
    real_encoder: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    fp = real_encoder("efficientnet-lite0")
    built = {}
    for tag in ("live", "shipped"):
        cache = tmp_path / tag
        cache.mkdir()
        shutil.copy(fp.onnx_path, cache / fp.onnx_path.name)
        with monkeypatch.context() as patch:
            if tag == "live":  # no shipped file: calibrated on the packaged collections
                patch.setattr(quantize, "RANGES_DIR", tmp_path / "none")
            else:  # no collections: the shipped ranges, checked on generated drawings
                _no_collections(patch)
            encoder = create_encoder("efficientnet-lite0-int8", cache_dir=cache)
            encoder.prepare()
        built[tag] = encoder
    live, shipped = (built[t].onnx_path for t in ("live", "shipped"))
    assert _nodes(live) == _nodes(shipped)  # the same graph, node for node
    a, b = _initializers(live), _initializers(shipped)
    assert a.keys() == b.keys()
    for name, x in a.items():
        y = b[name]
        assert (x.dtype, x.shape) == (y.dtype, y.shape), name
        if x.dtype.kind == "f":
            np.testing.assert_allclose(y, x, rtol=SCALE_RTOL, atol=0, err_msg=name)
        else:  # int8 weights and zero points
            assert np.abs(x.astype(np.int64) - y.astype(np.int64)).max(initial=0) <= (
                ZERO_POINT_ATOL
            ), name
    # the guarantee itself: as good as the live graph on real pictures it never saw
    paths = sorted(TUXPAINT.glob("*/**/*.png"))[::40][:48]
    images = [Image.open(p) for p in paths]
    want, got_live, got_shipped = (e.encode(images) for e in (fp, built["live"], built["shipped"]))
    assert _row_cosines(got_live, got_shipped).min() >= MIN_ROW_COSINE
    live_fp32 = mean_cosine(want, got_live)
    assert mean_cosine(want, got_shipped) >= live_fp32 - FP32_COSINE_SLACK
