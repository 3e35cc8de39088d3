"""Run a torch module through ONNX Runtime: export once, check against torch, cache the file.

The exported file lives in ``pictext.core.paths.cache_dir("onnx")`` under a name that includes
the encoder version, so a new weights file, preprocessing or export recipe gets a new file.
Export writes to a temporary file in the same folder and renames it only after the ONNX
Runtime output matched torch, so a killed or failed export never leaves a usable-looking file.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.core.atomic import remove_stale_temporaries
from pictext.encoders._deps import require

if TYPE_CHECKING:
    import onnxruntime
    import torch

# Bump when the export recipe changes (opset, wrapper, exporter options): part of the version.
EXPORT_VERSION = 1
OPSET = 17
MIN_PART = 4  # images per concurrent part of a batch (smaller batches run in one call)


class ExportMismatchError(RuntimeError):
    """The exported ONNX model does not reproduce the torch module within tolerance."""


@dataclass(frozen=True)
class ExportSpec:
    """What to export and how to check it."""

    input_names: tuple[str, ...]  # ONNX graph input names, in forward() argument order
    output_name: str  # the single ONNX graph output
    dynamic_axes: Mapping[str, Mapping[int, str]]  # per input/output name: axis -> symbolic name
    atol: float = 1e-3  # largest absolute difference to torch allowed on the check batch


def physical_cores() -> int:
    """CPU cores this process may use (the affinity mask where the OS exposes one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def onnx_cache_path(cache_dir: str | Path | None, name: str, version: str) -> Path:
    """Where an encoder's exported graph lives: ``cache_dir`` or the pictext ``onnx`` cache."""
    if cache_dir is not None:
        folder = Path(cache_dir)
    else:
        from pictext.core.paths import cache_dir as default_cache_dir

        folder = default_cache_dir("onnx")
    return folder / f"{name}-{version}.onnx"


def make_session(path: Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session tuned for a small machine.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads; default the usable cores. Inter-op parallelism is off:
            these graphs are chains, and a second pool only competes for the same cores.
    """
    ort = require("onnxruntime", "onnxruntime", purpose="ONNX Runtime inference")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or physical_cores()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: the CPU provider warns about unused initialisers
    # Idle ORT threads would spin and steal the cores that decode the next batch.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


class BatchRunner:
    """Run a batch through one session as concurrent contiguous parts, one per thread.

    ONNX Runtime splits each operator over its intra-op threads and waits for all of them
    before the next one; on cores shared with decoding threads, one thread that lost its
    core stalls the others at every operator. Parts run at once do not wait for each other.
    Paired on 2 shared cores (load 8, 6 interleaved rounds, 192 tuxpaint PNGs): end-to-end
    embed 1.04x (int8 Lite0) and 1.10x (fp32) of one call per batch; model only 0.99x and
    0.93x, so the gain is in overlapping the decoding, and small (``bench/embed.py`` pairs
    the two). Vectors: bit-equal on both Lite0 graphs; fp32 kernels may round a sum's last
    bit differently for another batch size (tests/encoders/test_onnx_runtime.py).

    Args:
        session: The session (``Run`` may be called from several threads at once).
        input_name: Its single input.
        output_name: Its single output.
        parts: Concurrent calls a batch is split into (1: one call).
    """

    def __init__(
        self, session: onnxruntime.InferenceSession, input_name: str, output_name: str, parts: int
    ) -> None:
        self.session, self.parts = session, max(1, parts)
        self._io = input_name, output_name
        self._pool = ThreadPoolExecutor(self.parts, "ort-part") if self.parts > 1 else None

    def _one(self, batch: np.ndarray) -> np.ndarray:
        name, output = self._io
        return self.session.run([output], {name: batch})[0]

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The output of ``batch`` (its first axis is the batch axis)."""
        parts = min(self.parts, len(batch) // MIN_PART)
        if self._pool is None or parts < 2:
            return self._one(batch)
        bounds = np.linspace(0, len(batch), parts + 1).astype(int)
        futures = [self._pool.submit(self._one, batch[a:b]) for a, b in itertools.pairwise(bounds)]
        return np.concatenate([f.result() for f in futures])


def _torch_outputs(module: torch.nn.Module, inputs: Sequence[np.ndarray]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        out = module(*[torch.from_numpy(x) for x in inputs])
    return out.detach().float().numpy()


def _check(
    path: Path, module: Any, batches: Sequence[Sequence[np.ndarray]], spec: ExportSpec
) -> float:
    """Max abs difference between torch and ONNX Runtime on ``batches``; raises when too big."""
    session = make_session(path)
    diff = 0.0
    for batch in batches:
        expected = _torch_outputs(module, batch)
        got = session.run([spec.output_name], dict(zip(spec.input_names, batch, strict=True)))[0]
        if got.shape != expected.shape:
            raise ExportMismatchError(f"ONNX output shape {got.shape} != torch {expected.shape}")
        diff = max(diff, float(np.max(np.abs(got - expected))))
    if not np.isfinite(diff) or diff > spec.atol:
        raise ExportMismatchError(
            f"ONNX export of {type(module).__name__} differs from torch by {diff:.3g} "
            f"(tolerance {spec.atol:g}); the file was not cached"
        )
    return diff


def export_checked(
    module: torch.nn.Module,
    check_inputs: Sequence[np.ndarray],
    path: Path,
    spec: ExportSpec,
    extra_checks: Sequence[Sequence[np.ndarray]] = (),
) -> Path:
    """Export ``module`` to ``path`` (atomically) after checking ONNX Runtime against torch.

    Args:
        module: A module in eval mode; its ``forward`` takes the inputs in ``spec`` order.
        check_inputs: Example inputs (a batch of 2+ so the dynamic batch axis is exercised).
        path: Destination ``.onnx`` file; its folder is created.
        spec: Names, dynamic axes and tolerance.
        extra_checks: More input batches to compare on, e.g. of other dynamic sizes (the
            trace may have frozen a shape-dependent branch).

    Returns:
        ``path``.

    Raises:
        ExportMismatchError: If ONNX Runtime's output differs from torch's beyond ``spec.atol``.
    """
    torch = require("torch", "torch==2.13.0", purpose="ONNX export")
    require("onnx", "onnx", purpose="ONNX export")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, pattern="*.onnx.tmp")  # left by a killed export
    fd, tmp_name = tempfile.mkstemp(prefix=path.stem + ".", suffix=".onnx.tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            # The tracer's notes (frozen Python branches, unfoldable slices, index lowering)
            # are what the comparison below checks for real, on several input shapes.
            warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index", category=UserWarning)
            # The TorchScript exporter is deprecated in favour of the dynamo one, which needs
            # onnxscript; with torch pinned at 2.13 it works, and its output is checked.
            warnings.simplefilter("ignore", category=DeprecationWarning)
            torch.onnx.export(
                module,
                tuple(torch.from_numpy(x) for x in check_inputs),
                str(tmp),
                input_names=list(spec.input_names),
                output_names=[spec.output_name],
                dynamic_axes={k: dict(v) for k, v in spec.dynamic_axes.items()},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        # The example batch, its first row alone (the batch axis must really be dynamic),
        # then the extra batches.
        batches = [list(check_inputs), [x[:1] for x in check_inputs], *map(list, extra_checks)]
        _check(tmp, module, batches, spec)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
