"""The collection browser's one query: filter items, sort them, cut a page.

The service's ``GET /browse`` and anything else that lists the collection call
:func:`browse`, so a filter or a sort means the same everywhere. Sorting by uniqueness or by
suspected-error score reads a saved audit (:class:`~pictext.audit.run.AuditResult`);
sorting by similarity reads the distances of a search (:mod:`pictext.rank.queries`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pictext.audit.run import AuditResult
    from pictext.data.item import Item

SORTS = ("dataset", "uniqueness", "error", "similarity")  # the orders :func:`browse` offers


@dataclass(frozen=True)
class BrowseQuery:
    """Which items, in which order, which page."""

    label: str | None = None  # keep items of this label
    fine_label: str | None = None  # keep items of this fine label
    has_text: bool | None = None  # True: with a title, description or tags; False: without
    ids: Collection[str] | None = None  # keep only these (a selection on the map)
    sort: str = "dataset"  # dataset | uniqueness (most unique first) | error (most suspect
    # first) | similarity (closest to the query first)
    page: int = 0  # page number, from 0
    per_page: int = 48  # items per page


@dataclass(frozen=True)
class BrowsePage:
    """One page of the browser: the rows shown and how many matched."""

    total: int  # items matching the filters
    page: int
    per_page: int
    rows: list[dict[str, Any]]  # {"id", "score"} in order; score is the sort's value or None


def has_text(item: Item) -> bool:
    """Whether the item carries any text (title, description or tags)."""
    return bool(item.title.strip() or item.description.strip() or item.tags)


def facets(items: Sequence[Item]) -> dict[str, Any]:
    """Labels and fine labels with their counts, and how many items have text."""
    labels = Counter(it.label for it in items if it.label is not None)
    fine = Counter(it.fine_label for it in items if it.fine_label is not None)
    return {
        "labels": dict(sorted(labels.items())),
        "fine_labels": dict(sorted(fine.items())),
        "with_text": sum(has_text(it) for it in items),
        "items": len(items),
    }


def browse(
    items: Sequence[Item],
    query: BrowseQuery,
    *,
    audit: AuditResult | None = None,
    distances: Mapping[str, float] | None = None,
) -> BrowsePage:
    """Filter, sort and page the collection.

    Args:
        items: the collection, in dataset order.
        query: filters, order and page.
        audit: the collection's audit (needed to sort by uniqueness or error).
        distances: id -> distance to the current query (needed to sort by similarity).

    Raises:
        ValueError: an unknown sort, a sort whose scores are missing, or a bad page size.
    """
    if query.sort not in SORTS:
        raise ValueError(f"unknown sort {query.sort!r}; use one of {', '.join(SORTS)}")
    if query.per_page < 1 or query.page < 0:
        raise ValueError("page must be >= 0 and per_page >= 1")
    keep = set(query.ids) if query.ids is not None else None
    chosen = [
        it
        for it in items
        if (query.label is None or it.label == query.label)
        and (query.fine_label is None or it.fine_label == query.fine_label)
        and (query.has_text is None or has_text(it) == query.has_text)
        and (keep is None or it.id in keep)
    ]
    scores = _scores(query.sort, audit, distances)
    rows = [{"id": it.id, "score": scores.get(it.id) if scores else None} for it in chosen]
    if scores is not None:
        sign = 1.0 if query.sort == "similarity" else -1.0  # nearest first; else highest first
        rows.sort(key=lambda r: (r["score"] is None, sign * (r["score"] or 0.0)))
    start = query.page * query.per_page
    return BrowsePage(len(rows), query.page, query.per_page, rows[start : start + query.per_page])


def _scores(
    sort: str, audit: AuditResult | None, distances: Mapping[str, float] | None
) -> dict[str, float | None] | None:
    if sort == "dataset":
        return None
    if sort == "similarity":
        if distances is None:
            raise ValueError("sorting by similarity needs a query (a text or an image)")
        return {k: round(float(v), 4) for k, v in distances.items()}
    if audit is None:
        raise ValueError(
            f"sorting by {sort} needs an audit of the collection: pictext audit DATASET "
            "--out BUNDLE/audit"
        )
    values = audit.uniqueness if sort == "uniqueness" else audit.error_score
    return {
        i: (None if not math.isfinite(v) else round(float(v), 4))
        for i, v in zip(audit.ids, values, strict=True)
    }
