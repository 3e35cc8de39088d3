"""Encoders by the ``name@version`` a saved model recorded, built once and shared.

A front end that answers many queries (the service, a worker) holds one
:class:`EncoderPool`; the library calls for new inputs take it as ``encoders`` and ask it
for the towers a model reads. Without one they build the recorded encoder from the registry.
A composite spec (``a+b``, :mod:`pictext.store.composite`) is built from its parts, each
built (and, in a pool, kept) as it would be alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pictext.store.composite import CompositeEncoder, is_composite, part_specs

EncoderSource = Callable[[str], Any]  # recorded "name@version" (or a bare name) -> encoder


class EncoderPool:
    """Each encoder built once, its installed version checked against the recorded one.

    Args:
        factory: builds an encoder from a registry name and options (default: the registry).
        prepare: load each encoder's runtime when it is built, not on its first call.
        **options: passed to the factory (e.g. ``threads``).

    Example:
        >>> pool = EncoderPool(prepare=True, threads=1)  # doctest: +SKIP
        >>> pool("efficientnet-lite0@3").dim  # doctest: +SKIP
        1280
    """

    def __init__(
        self, factory: Callable[..., Any] | None = None, *, prepare: bool = False, **options: Any
    ) -> None:
        self.factory = factory
        self.prepare = prepare
        self.options = options
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, spec: str) -> Any:
        """The encoder recorded as ``spec``.

        Raises:
            EncoderVersionError: the installed encoder (or a part) has another version.
            UsageError: a bad composite spec.
        """
        from pictext.encoders.registry import create_recorded_encoder

        if is_composite(spec):
            parts = [self(part) for part in part_specs(spec)]  # each part built once, alone
            with self._lock:
                return self._built.setdefault(spec, CompositeEncoder(parts))
        with self._lock:
            if spec not in self._built:
                encoder = create_recorded_encoder(spec, factory=self.factory, **self.options)
                if self.prepare and callable(getattr(encoder, "prepare", None)):
                    encoder.prepare()
                self._built[spec] = encoder
            return self._built[spec]

    @property
    def specs(self) -> list[str]:
        """The specs built so far, sorted."""
        return sorted(self._built)

    def image_size(self, default: int = 224) -> int:
        """The largest input side of the image encoders built so far (``default`` if none)."""
        sizes = [getattr(e, "image_size", 0) for e in self._built.values()]
        return max([s for s in sizes if s] or [default])


def encoder_for(spec: str, encoders: EncoderSource | None = None) -> Any:
    """The encoder recorded as ``spec``, from ``encoders`` or else built from the registry.

    A composite spec (``a+b`` or ``a+b@va+vb``) gives a
    :class:`~pictext.store.composite.CompositeEncoder` of its parts, each from ``encoders``
    or the registry.

    Raises:
        EncoderVersionError: the installed encoder (or a part) has another version.
        UsageError: a bad composite spec (an empty or repeated part, image and text mixed).
    """
    if is_composite(spec):
        return CompositeEncoder([encoder_for(part, encoders) for part in part_specs(spec)])
    if encoders is not None:
        return encoders(spec)
    from pictext.encoders.registry import create_recorded_encoder

    return create_recorded_encoder(spec)
