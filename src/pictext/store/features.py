"""Cached embeddings of a dataset, aligned with its items: what the heads train on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pictext.data.budgets import Truncation

TEXT_INPUTS: tuple[str, ...] = ("title", "description", "tags", "text")


@dataclass
class Features:
    """Embeddings of N items, row i belonging to ``ids[i]``.

    A missing input (no image, an empty field, an item that failed to decode) is a zero row
    with ``False`` in its mask; heads must use the mask, never the zeros.

    Example:
        >>> f = Features(ids=["a"], image=np.ones((1, 4), np.float32), image_mask=np.array([True]))
        >>> f.n, f.image_dim
        (1, 4)
    """

    ids: list[str]  # item ids, in dataset order
    image: np.ndarray | None = None  # float32 [N, Di]; None when no image encoder was asked
    image_mask: np.ndarray | None = None  # bool [N]: True where the image embedding is real
    text: dict[str, np.ndarray] = field(default_factory=dict)  # input -> float32 [N, Dt]
    text_mask: dict[str, np.ndarray] = field(default_factory=dict)  # input -> bool [N]
    image_encoder: str | None = None  # "name@version" of the image tower
    text_encoder: str | None = None  # "name@version" of the text tower
    truncated: list[Truncation] = field(default_factory=list)  # text cut to its budget

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def image_dim(self) -> int:
        return 0 if self.image is None else int(self.image.shape[1])

    @property
    def text_dim(self) -> int:
        return next((int(v.shape[1]) for v in self.text.values()), 0)

    def subset(self, indices: np.ndarray) -> Features:
        """Rows ``indices`` of every array (a copy)."""
        idx = np.asarray(indices)
        kept = {self.ids[int(i)] for i in idx}
        return Features(
            ids=[self.ids[int(i)] for i in idx],
            image=None if self.image is None else np.asarray(self.image[idx]),
            image_mask=None if self.image_mask is None else np.asarray(self.image_mask[idx]),
            text={k: np.asarray(v[idx]) for k, v in self.text.items()},
            text_mask={k: np.asarray(v[idx]) for k, v in self.text_mask.items()},
            image_encoder=self.image_encoder,
            text_encoder=self.text_encoder,
            truncated=[t for t in self.truncated if t.item_id in kept],
        )
