"""ONNX export helper on a tiny module, and the fine-tuning helper on an untrained net."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from pictext.encoders.onnx_runtime import (  # noqa: E402
    BatchRunner,
    ExportMismatchError,
    ExportSpec,
    export_checked,
    make_session,
)

SPEC = ExportSpec(input_names=("x",), output_name="y", dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 5, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


def _batch(n: int) -> np.ndarray:
    return np.random.default_rng(n).normal(size=(n, 3, 16, 16)).astype(np.float32)


def test_export_matches_torch_for_any_batch(tmp_path: Path) -> None:
    module = Tiny().eval()
    path = export_checked(module, [_batch(2)], tmp_path / "tiny.onnx", SPEC)
    assert path.is_file()
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind
    session = make_session(path, threads=1)
    for n in (1, 5):
        x = _batch(n)
        got = session.run(["y"], {"x": x})[0]
        with torch.no_grad():
            want = module(torch.from_numpy(x)).numpy()
        assert got.shape == (n, 5)
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_failed_check_leaves_no_file(tmp_path: Path) -> None:
    strict = ExportSpec(SPEC.input_names, SPEC.output_name, SPEC.dynamic_axes, atol=-1.0)
    with pytest.raises(ExportMismatchError, match="not cached"):
        export_checked(Tiny().eval(), [_batch(2)], tmp_path / "tiny.onnx", strict)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("n", [1, 7, 8, 33])
def test_batch_runner_parts_give_the_one_call_output(tmp_path: Path, n: int) -> None:
    path = export_checked(Tiny().eval(), [_batch(2)], tmp_path / "tiny.onnx", SPEC)
    session = make_session(path, threads=2)
    x = _batch(n)
    whole = session.run(["y"], {"x": x})[0]
    runner = BatchRunner(session, "x", "y", parts=3)
    got = runner.run(x)
    assert got.shape == (n, 5)
    # fp32 kernels may block a reduction differently for another batch size: the last bit of
    # a sum can differ (an int8 graph's parts are bit-equal, tests/encoders/test_quantize.py)
    np.testing.assert_allclose(got, whole, rtol=1e-6, atol=0)
    assert np.array_equal(BatchRunner(session, "x", "y", parts=1).run(x), whole)


def test_trainable_tail_unfreezes_last_blocks_and_head() -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    from pictext.encoders.efficientnet_torch import PooledFeatures, build_module, trainable_tail

    module = PooledFeatures(build_module("efficientnet-lite0"))
    blocks = module.net._blocks
    params = trainable_tail(module, fraction=0.5)
    n = len(blocks)
    assert n == 16
    for i, block in enumerate(blocks):
        flags = {p.requires_grad for p in block.parameters()}
        assert flags == ({True} if i >= n // 2 else {False}), i
    assert all(p.requires_grad for p in module.net._conv_head.parameters())
    assert all(p.requires_grad for p in module.net._bn1.parameters())
    assert not any(p.requires_grad for p in module.net._conv_stem.parameters())
    assert not any(p.requires_grad for p in module.net._fc.parameters())
    trainable = [p for p in module.parameters() if p.requires_grad]
    assert {id(p) for p in params} == {id(p) for p in trainable}
    assert trainable_tail(module, fraction=0.0) == []
    assert not any(p.requires_grad for p in module.parameters())
    with pytest.raises(ValueError, match="fraction"):
        trainable_tail(module, fraction=1.5)
