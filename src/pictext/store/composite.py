"""Composite encoders: several towers of one kind read as one, ``a+b``.

A spec such as ``efficientnet-lite0+efficientnet-lite2`` (or ``use+minilm``) names a tower
whose vector is the concatenation of its parts' L2-normalised vectors. Each part is embedded
and cached under its own ``name@version``, exactly as when it is used alone, so a composite
adds no cache format; only the join happens here. Its recorded spec joins the parts' names
and versions (``a+b@va+vb``): a model trained on it refuses features of any single part,
or of the same parts at another version, through the usual encoder check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pictext.core.errors import UsageError
from pictext.core.vectors import unit_rows

SEP = "+"  # joins the parts' names, and their versions


def is_composite(spec: str) -> bool:
    """Whether ``spec`` (a name or ``name@version``) names several parts."""
    return SEP in spec.partition("@")[0]


def part_specs(spec: str) -> list[str]:
    """The parts of a composite spec, each a name or ``name@version`` as ``spec`` gave it.

    Raises:
        UsageError: an empty part (``"a+"``), a part named twice, or a recorded version
            that does not split into one version per part.

    Example:
        >>> part_specs("use+minilm@3+7")
        ['use@3', 'minilm@7']
    """
    name, at, version = spec.partition("@")
    names = name.split(SEP)
    if any(not n.strip() for n in names):
        raise UsageError(
            f"encoder {spec!r} has an empty part; write a composite as name+name", item=spec
        )
    if len(set(names)) != len(names):
        raise UsageError(f"encoder {spec!r} names a part twice", item=spec)
    if not at:
        return names
    versions = version.split(SEP)
    if len(versions) != len(names):
        raise UsageError(
            f"encoder {spec!r} records {len(versions)} versions for {len(names)} parts",
            item=spec,
        )
    return [f"{n}@{v}" for n, v in zip(names, versions, strict=True)]


def check_spec(spec: str) -> str:
    """Check a spec against the registry before any work: every part known, one kind.

    Returns:
        ``"image"`` or ``"text"``.

    Raises:
        UsageError: a bad composite (see :func:`part_specs`), an unknown part (the message
            lists the known encoders) or image and text parts mixed.
    """
    from pictext.encoders.registry import encoder_kind

    parts = part_specs(spec) if is_composite(spec) else [spec]
    kinds = {p: encoder_kind(p.partition("@")[0]) for p in parts}
    if len(set(kinds.values())) > 1:
        listed = ", ".join(f"{p.partition('@')[0]} ({k})" for p, k in kinds.items())
        raise UsageError(f"encoder {spec!r} mixes image and text parts: {listed}", item=spec)
    return next(iter(kinds.values()))


def _kind(encoder: Any) -> str:
    return "image" if hasattr(encoder, "image_size") else "text"


def join(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The composite's ``(vectors, mask)`` from its parts' ``(vectors, mask)``, in part order.

    A row is present only where every part is; elsewhere it is a zero row, as
    :class:`~pictext.store.features.Features` represents a missing input.
    """
    mask = np.logical_and.reduce([np.asarray(m, bool) for _, m in parts])
    vecs = np.concatenate([unit_rows(v) for v, _ in parts], axis=1)
    vecs[~mask] = 0.0
    return vecs, mask


class CompositeEncoder:
    """Several encoders of one kind as one tower (see the module docstring).

    Embedding a dataset goes part by part through each part's own cache
    (:func:`~pictext.store.embed.embed_items`); :meth:`encode` is the same join for direct
    calls.

    Args:
        parts: the part encoders, in the spec's order (at least two, all image or all text).

    Raises:
        UsageError: fewer than two parts, a part named twice, or image and text mixed.

    Example:
        >>> class Toy:
        ...     def __init__(self, name, dim):
        ...         self.name, self.version, self.dim = name, "1", dim
        ...     def encode(self, texts):
        ...         return np.full((len(texts), self.dim), 2.0, np.float32)
        >>> enc = CompositeEncoder([Toy("a", 1), Toy("b", 4)])
        >>> enc.name, enc.version, enc.dim, enc.encode(["x"]).round(2).tolist()
        ('a+b', '1+1', 5, [[1.0, 0.5, 0.5, 0.5, 0.5]])
    """

    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts = tuple(parts)
        names = [p.name for p in self.parts]
        label = SEP.join(names)
        if len(self.parts) < 2 or len(set(names)) != len(names):
            raise UsageError(f"a composite encoder needs distinct parts, got {label!r}")
        kinds = {_kind(p) for p in self.parts}
        if len(kinds) > 1:
            raise UsageError(f"encoder {label!r} mixes image and text parts", item=label)
        self.kind = kinds.pop()
        self.name = label
        self.version = SEP.join(str(p.version) for p in self.parts)
        self.dim = sum(int(p.dim) for p in self.parts)
        if self.kind == "image":
            self.image_size = max(int(p.image_size) for p in self.parts)

    def prepare(self) -> None:
        """Load every part's runtime now (see :class:`~pictext.store.pool.EncoderPool`)."""
        for part in self.parts:
            if callable(getattr(part, "prepare", None)):
                part.prepare()

    def encode(self, inputs: Sequence[Any]) -> np.ndarray:
        """Decoded images or strings -> float32 ``[N, dim]``: the parts' normalised vectors
        side by side."""
        return np.concatenate([unit_rows(p.encode(inputs)) for p in self.parts], axis=1)


def parts_of(encoder: Any) -> tuple[Any, ...]:
    """The encoders whose caches hold ``encoder``'s vectors: its parts, or itself."""
    return encoder.parts if isinstance(encoder, CompositeEncoder) else (encoder,)
