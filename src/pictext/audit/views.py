"""The browser's query answered from views computed once, never by a scan of every item.

:func:`pictext.audit.browse.browse` filters and sorts the whole collection on each call:
fine for a thousand items, 8-25x slower at 70k. :class:`BrowseViews` reads the items and
the audit once and keeps

- the rows of each label, fine label and text/no-text (sorted, in dataset order);
- the rows in the order of each audit score (uniqueness, error), and per label the same
  order restricted to the label;
- the facets (:func:`pictext.audit.browse.facets`).

A page is then a slice of one precomputed list (no filter, or one filter), or of the
intersection of the filters' lists (its cost grows with the shortest list, not the
collection); a map selection arrives as rows and is sorted by the sort's key. It answers
exactly what :func:`~pictext.audit.browse.browse` answers (tests/audit/test_views.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from pictext.audit.browse import SORTS, BrowsePage, BrowseQuery, facets, has_text
from pictext.core.lru import LruCache

CACHED_LISTS = 32  # filtered, sorted row lists kept (at most N int64 rows each)

if TYPE_CHECKING:
    from pictext.audit.run import AuditResult
    from pictext.data.item import Item


class BrowseViews:
    """Sorted row lists of one collection and its audit (see the module docstring).

    Args:
        items: the collection, in dataset order (read once, here).
        audit: its audit, for the uniqueness and error sorts.
    """

    def __init__(self, items: Sequence[Item], audit: AuditResult | None = None) -> None:
        self.ids = [it.id for it in items]
        self.row_of = {item_id: r for r, item_id in enumerate(self.ids)}
        self.facets = facets(items)
        self.audit = audit
        self._label = _groups([it.label for it in items])
        self._fine = _groups([it.fine_label for it in items])
        self._text = _groups([has_text(it) for it in items])
        self._all = np.arange(len(self.ids), dtype=np.int64)
        self._lists: LruCache[np.ndarray] = LruCache(CACHED_LISTS)  # filters -> sorted rows
        self._scores: dict[str, np.ndarray] = {}
        self._order: dict[str, np.ndarray] = {}  # rows, highest score first, NaN last
        self._rank: dict[str, np.ndarray] = {}  # position of each row in that order
        if audit is not None:
            for sort, values in (("uniqueness", audit.uniqueness), ("error", audit.error_score)):
                score = np.full(len(self.ids), np.nan)
                rows = np.array([self.row_of.get(i, -1) for i in audit.ids], dtype=np.int64)
                score[rows[rows >= 0]] = np.asarray(values, np.float64)[rows >= 0]
                key = np.where(np.isnan(score), np.inf, -np.round(score, 4))
                order = np.lexsort((self._all, key))  # ties: dataset order, as browse()
                rank = np.empty_like(order)
                rank[order] = self._all
                self._scores[sort], self._order[sort], self._rank[sort] = score, order, rank

    def __len__(self) -> int:
        return len(self.ids)

    def page(
        self,
        query: BrowseQuery,
        *,
        rows: np.ndarray | None = None,
        distances: Mapping[str, float] | None = None,
    ) -> BrowsePage:
        """One page of the browser, as :func:`pictext.audit.browse.browse` answers it.

        Args:
            query: filters, order and page (``query.ids``: a selection by id).
            rows: a selection by row (a map geometry), in place of ``query.ids``.
            distances: id -> distance to the current query (the similarity sort).

        Raises:
            ValueError: an unknown sort, a sort whose scores are missing, or a bad page size.
        """
        if query.sort not in SORTS:
            raise ValueError(f"unknown sort {query.sort!r}; use one of {', '.join(SORTS)}")
        if query.per_page < 1 or query.page < 0:
            raise ValueError("page must be >= 0 and per_page >= 1")
        if query.sort in ("uniqueness", "error") and self.audit is None:
            raise ValueError(
                f"sorting by {query.sort} needs an audit of the collection: pictext audit "
                "DATASET --out BUNDLE/audit"
            )
        if query.sort == "similarity" and distances is None:
            raise ValueError("sorting by similarity needs a query (a text or an image)")
        if rows is None and query.ids is not None:
            rows = np.array([self.row_of[i] for i in set(query.ids) if i in self.row_of])
        chosen = self._filtered(query, rows)  # dataset order, or the sort's order

        start = query.page * query.per_page
        stop = start + query.per_page
        if query.sort == "similarity":
            picked = self._by_distance(chosen, distances or {}, start, stop)
            scores = {k: round(float(v), 4) for k, v in (distances or {}).items()}
            out = [{"id": self.ids[r], "score": scores.get(self.ids[r])} for r in picked]
        else:
            score = self._scores.get(query.sort)
            out = [
                {"id": self.ids[r], "score": None if score is None else _num(score[r])}
                for r in chosen[start:stop]
            ]
        return BrowsePage(len(chosen), query.page, query.per_page, out)

    # ---- internals ------------------------------------------------------------------------
    def _filtered(self, query: BrowseQuery, rows: np.ndarray | None) -> np.ndarray:
        """Rows that pass the filters, in the sort's order (dataset order for
        ``dataset`` and ``similarity``). Without a selection the list is kept (an LRU of
        :data:`CACHED_LISTS`): the next page of the same filters is a slice."""
        sort = query.sort if query.sort in self._order else None
        if rows is not None:
            return self._compute(query, rows, sort)
        key = (query.label, query.fine_label, query.has_text, sort)
        got = self._lists.get(key)
        if got is None:
            got = self._compute(query, None, sort)
            self._lists.put(key, got)
        return got

    def _compute(self, query: BrowseQuery, rows: np.ndarray | None, sort: str | None) -> np.ndarray:
        lists = []  # sorted row arrays, intersected
        if query.label is not None:
            lists.append(self._label.get(query.label, _EMPTY))
        if query.fine_label is not None:
            lists.append(self._fine.get(query.fine_label, _EMPTY))
        if query.has_text is not None:
            lists.append(self._text.get(query.has_text, _EMPTY))
        if rows is not None:  # sorted, distinct (a mask: np.unique hashes, slow at 1M)
            mask = np.zeros(len(self.ids), bool)
            mask[np.asarray(rows, np.int64)] = True
            lists.append(np.flatnonzero(mask))
        if not lists:
            return self._order[sort] if sort else self._all
        lists.sort(key=len)
        keep = lists[0]
        for other in lists[1:]:
            keep = keep[np.isin(keep, other, assume_unique=True)]
        if sort and len(keep) * 16 > len(self.ids):  # many rows: one pass over the order
            mask = np.zeros(len(self.ids), bool)
            mask[keep] = True
            keep = self._order[sort][mask[self._order[sort]]]
        elif sort:
            keep = keep[np.argsort(self._rank[sort][keep], kind="stable")]
        return keep

    def _by_distance(
        self, chosen: np.ndarray, distances: Mapping[str, float], start: int, stop: int
    ) -> np.ndarray:
        """Rows ``start:stop`` of ``chosen`` with the scored rows first (nearest first), the
        rest after them in dataset order; touches the scored rows and the page only."""
        rows = np.array([self.row_of[i] for i in distances if i in self.row_of], np.int64)
        pos = np.searchsorted(chosen, rows)
        inside = (pos < len(chosen)) & (chosen[np.minimum(pos, len(chosen) - 1)] == rows)
        if len(chosen) == 0:
            inside[:] = False
        rows, pos = rows[inside], pos[inside]
        d = np.array([round(float(distances[self.ids[r]]), 4) for r in rows])
        first = rows[np.lexsort((rows, d))] if len(rows) else rows  # nearest, then dataset order
        head = first[start:stop]
        need = (stop - start) - len(head)
        if need <= 0:
            return head
        # the rest: chosen without the scored rows, from its position max(0, start - scored)
        skip = np.sort(pos)
        idx = max(0, start - len(first))
        for p in skip:  # the idx-th element of chosen once the skipped positions are out
            if p > idx:
                break
            idx += 1
        skipped = set(skip.tolist())
        tail: list[int] = []
        while len(tail) < need and idx < len(chosen):
            if idx not in skipped:
                tail.append(int(chosen[idx]))
            idx += 1
        return np.concatenate([head, np.array(tail, np.int64)])


_EMPTY = np.zeros(0, np.int64)


def _groups(values: Sequence[object]) -> dict[object, np.ndarray]:
    """Rows of each distinct value (None skipped), each array in dataset order."""
    out: dict[object, list[int]] = {}
    for r, v in enumerate(values):
        if v is not None:
            out.setdefault(v, []).append(r)
    return {k: np.array(v, np.int64) for k, v in out.items()}


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 4)
