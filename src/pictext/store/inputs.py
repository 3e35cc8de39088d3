"""Reading a head's inputs out of :class:`~pictext.store.features.Features`.

Shared by the fusion head, the ranking head, the anchors and the applications: which inputs
exist, how a missing one is represented, and the check that features come from the encoders
a model was trained with (the rule itself is :func:`pictext.core.artifacts.check_encoder`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pictext.core.artifacts import EncoderMismatchError, check_encoder
from pictext.store.features import TEXT_INPUTS, Features

INPUTS: tuple[str, ...] = ("image", *TEXT_INPUTS)
IMAGE_ONLY: tuple[str, ...] = ("image",)
TEXT_ONLY: tuple[str, ...] = ("title", "description", "tags")
FUSION: tuple[str, ...] = ("image", "title", "description", "tags")


def validate_inputs(inputs: Sequence[str]) -> tuple[str, ...]:
    """Check input names (no duplicates, known names) and return them as a tuple."""
    inputs = tuple(inputs)
    unknown = [i for i in inputs if i not in INPUTS]
    if unknown or not inputs or len(set(inputs)) != len(inputs):
        raise ValueError(f"inputs must be distinct names from {INPUTS}; got {inputs}")
    return inputs


def uses_text(inputs: Sequence[str]) -> bool:
    return any(i != "image" for i in inputs)


def check_encoders(
    feats: Features,
    inputs: Sequence[str],
    image_encoder: str | None,
    text_encoder: str | None,
    *,
    model: str = "the model",
) -> None:
    """Raise :class:`EncoderMismatchError` when ``feats`` come from other encoders.

    Only the towers the model reads are compared; an input absent from ``feats``
    altogether (e.g. no image array) is treated as missing, not as a mismatch.

    Args:
        feats: the features to check.
        inputs: the inputs the model reads.
        image_encoder: ``name@version`` of the image tower the model was trained on.
        text_encoder: ``name@version`` of its text tower.
        model: what was trained, for the message (e.g. ``"the ranking head"``).
    """
    if "image" in inputs and feats.image is not None:
        remedy = f"embed the data with {image_encoder}"
        check_encoder(
            image_encoder, feats.image_encoder, role="image", subject=model, remedy=remedy
        )
    has_text = any(i in feats.text for i in inputs if i != "image")
    if uses_text(inputs) and has_text:
        remedy = f"embed the data with {text_encoder}"
        check_encoder(text_encoder, feats.text_encoder, role="text", subject=model, remedy=remedy)


def input_array(
    feats: Features, name: str, dim: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One input as ``(float32 [N, D], bool mask [N])``; all-missing when ``feats`` lacks it.

    Args:
        feats: the features.
        name: ``"image"`` or a text input.
        dim: width to use when the input is absent (needed then).
    """
    if name == "image":
        arr, mask = feats.image, feats.image_mask
    else:
        arr, mask = feats.text.get(name), feats.text_mask.get(name)
    if arr is None:
        if dim is None:
            raise ValueError(f"features have no {name!r} input and no width was given")
        return np.zeros((feats.n, dim), np.float32), np.zeros(feats.n, bool)
    if mask is None:
        mask = np.ones(len(arr), bool)
    if dim is not None and arr.shape[1] != dim:
        raise EncoderMismatchError(
            f"input {name!r} has width {arr.shape[1]}, the model expects {dim}"
        )
    return np.asarray(arr, np.float32), np.asarray(mask, bool)


def drop_inputs(feats: Features, names: Sequence[str]) -> Features:
    """A copy of ``feats`` where the named inputs are marked missing (zero rows, mask False).

    ``"all_text"`` in ``names`` drops every text input; used for the missing-input table.
    """
    names = set(names)
    if "all_text" in names:
        names |= set(TEXT_INPUTS)
    out = feats.subset(np.arange(feats.n))
    if "image" in names and out.image is not None:
        out.image = np.zeros_like(out.image)
        out.image_mask = np.zeros(out.n, bool)
    for name in list(out.text):
        if name in names:
            out.text[name] = np.zeros_like(out.text[name])
            out.text_mask[name] = np.zeros(out.n, bool)
    return out
