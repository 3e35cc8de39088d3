"""Triplet sampling for the ranking head: (query, positive, negative) row indices.

Wang et al. (2014, "Learning Fine-grained Image Similarity with Deep Ranking") draw two kinds
of negatives: *out-of-class* negatives, uniformly from other categories, and *in-class*
negatives, images of the query's own category that are *less relevant* to the query than the
positive (their relevance came from a graded, pre-existing similarity score). They found about
20% out-of-class negatives a good mix.

Label-only data has no graded relevance inside a class: two items with the same label are
equally relevant, so a same-label item cannot honestly be called a negative. What we do:

* **fine labels present** (``Item.fine_label``): relevance has two grades. The positive
  shares the query's fine label; the in-class negative shares its class but not its fine
  label. This is Wang et al.'s scheme with the hierarchy standing in for their scores.
* **labels only**: the in-class share is replaced by *hard* negatives: other-class items
  that the current embedding puts close to the query (semi-hard mining inside each batch,
  :func:`semi_hard_negatives`). They play the in-class negatives' role (fine distinctions
  the easy, uniform negatives never teach) without contradicting the labels.
* neither (``hard_negatives=False``): every negative is a uniform out-of-class one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# Kind of the negative in each sampled triplet (third column of ``TripletBatch.kind``).
OUT_OF_CLASS = 0  # uniform draw from another class
IN_CLASS = 1  # same class, other fine label
HARD = 2  # to be replaced by a mined negative (placeholder: an out-of-class draw)


class _Groups:
    """Items grouped by an integer key, for vectorised "another member" / "outside" draws."""

    def __init__(self, keys: np.ndarray) -> None:
        self.order = np.argsort(keys, kind="stable")
        uniq, first, counts = np.unique(keys[self.order], return_index=True, return_counts=True)
        group = np.searchsorted(uniq, keys)
        self.start = first[group]
        self.count = counts[group]
        self.pos = np.empty(len(keys), dtype=np.int64)
        self.pos[self.order] = np.arange(len(keys)) - np.repeat(first, counts)
        self.n = len(keys)

    def member(self, q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Another member of each query's group (the query itself when it is alone)."""
        span = np.maximum(self.count[q] - 1, 1)
        r = rng.integers(0, span)
        r = r + ((r >= self.pos[q]) & (self.count[q] > 1))
        return self.order[self.start[q] + r]

    def outside(self, q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniform draw among the items outside each query's group."""
        r = rng.integers(0, self.n - self.count[q])
        r = r + self.count[q] * (r >= self.start[q])
        return self.order[r]


def sample_triplets(
    labels: np.ndarray,
    rng: np.random.Generator,
    *,
    n: int | None = None,
    fine_labels: np.ndarray | None = None,
    out_of_class_frac: float = 0.2,
    hard_negatives: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw triplets over labelled rows.

    Args:
        labels: class index per row; rows with ``-1`` are never used.
        rng: the random generator (seeded by the caller).
        n: number of triplets; default one per usable query row, in random order.
        fine_labels: fine class per row (``-1`` = none), or None.
        out_of_class_frac: share of negatives drawn uniformly from other classes; the rest
            are in-class (fine labels) or hard (mined later), see the module docstring.
        hard_negatives: mine the non-out-of-class share when no fine label applies; when
            False those negatives are uniform out-of-class draws too.

    Returns:
        ``(triplets, kind)``: int64 ``[n, 3]`` row indices (query, positive, negative) and
        int8 ``[n]`` negative kind (``OUT_OF_CLASS``, ``IN_CLASS`` or ``HARD``).

    Raises:
        ValueError: fewer than two classes, or no class with two rows.
    """
    labels = np.asarray(labels, dtype=np.int64)
    valid = np.flatnonzero(labels >= 0)
    lab = labels[valid]
    classes = _Groups(lab)
    usable = np.flatnonzero(classes.count > 1)
    if len(np.unique(lab)) < 2 or len(usable) == 0:
        raise ValueError("triplets need at least two classes and a class with two items")
    q = rng.permutation(usable) if n is None else rng.choice(usable, size=n)
    p = classes.member(q, rng)
    neg = classes.outside(q, rng)
    kind = np.full(len(q), OUT_OF_CLASS, dtype=np.int8)
    rest = rng.random(len(q)) >= out_of_class_frac
    if fine_labels is not None:
        p, neg, kind = _fine(q, p, neg, kind, rest, lab, np.asarray(fine_labels)[valid], rng)
    if hard_negatives:
        kind[rest & (kind == OUT_OF_CLASS)] = HARD
    return np.stack([valid[q], valid[p], valid[neg]], axis=1), kind


def _fine(
    q: np.ndarray,
    p: np.ndarray,
    neg: np.ndarray,
    kind: np.ndarray,
    rest: np.ndarray,
    lab: np.ndarray,
    fine: np.ndarray,
    rng: np.random.Generator,
    tries: int = 16,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positives sharing the fine label; in-class negatives of another fine label."""
    fine = fine.astype(np.int64)
    has = fine >= 0
    key = np.where(has, lab * (int(fine.max(initial=0)) + 2) + fine + 1, -1 - np.arange(len(lab)))
    groups = _Groups(key)
    ok = has[q] & (groups.count[q] > 1)
    p = np.where(ok, groups.member(q, rng), p)
    classes = _Groups(lab)
    todo = np.flatnonzero(ok & rest)
    for _ in range(tries):
        if len(todo) == 0:
            break
        cand = classes.member(q[todo], rng)
        hit = has[cand] & (fine[cand] != fine[q[todo]])
        neg[todo[hit]] = cand[hit]
        kind[todo[hit]] = IN_CLASS
        todo = todo[~hit]
    return p, neg, kind


def semi_hard_negatives(
    d_qp: torch.Tensor, d_qc: torch.Tensor, other_class: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick, per query, the closest candidate that is still farther than the positive.

    FaceNet's semi-hard rule: the hardest negatives (closer than the positive) are often
    label noise and make training collapse; semi-hard ones still violate the margin.
    When no candidate is farther than the positive, the farthest such (least hard)
    violating candidate is taken.

    Args:
        d_qp: ``[B]`` query-positive distances.
        d_qc: ``[B, C]`` query-candidate distances.
        other_class: ``[B, C]`` bool, True where the candidate is of another class.

    Returns:
        ``(index, found)``: ``[B]`` candidate column per query and ``[B]`` bool, False for
        queries with no other-class candidate at all (keep their own negative).
    """
    import torch

    inf = torch.tensor(float("inf"), dtype=d_qc.dtype)
    semi = other_class & (d_qc > d_qp[:, None])
    closest_semi = torch.where(semi, d_qc, inf).argmin(dim=1)
    least_hard = torch.where(other_class, d_qc, -inf).argmax(dim=1)
    index = torch.where(semi.any(dim=1), closest_semi, least_hard)
    return index, other_class.any(dim=1)
