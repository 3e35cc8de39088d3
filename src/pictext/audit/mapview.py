"""The collection map as the page gets it: a bounded sample of the view, and selections by
geometry.

Sending every point does not scale (4.2 MB of JSON at 70k items, about 60 MB at 1M, and a
page that redraws them all on every hover). :class:`MapView` keeps the map's points in one
random order, fixed at start, so that

- the points of any rectangle of the map (the whole map, or the view after a zoom) are
  answered as the first ``limit`` points of that order inside it: an unbiased sample of the
  view whose size, and so the payload and the page's draw time, is bounded, with the count
  of all the points in the view beside it;
- a box or a lasso drawn on the page arrives as its geometry in map coordinates, and the
  server selects the rows inside it (:meth:`MapView.select`): a selection of 50,000 points is
  one small request instead of 50,000 form fields.

Coordinates are those of :func:`pictext.core.projection.collection_map`: the unit square,
``y`` up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

MAP_POINTS = 20_000  # most points one /map answer carries (about 1.2 MB of JSON)
MAX_POLYGON = 1_000  # most vertices of a lasso


class GeometryError(ValueError):
    """A box or polygon that cannot be read (the message says why)."""


class MapView:
    """Map points in a fixed random order, with their ids and labels.

    Args:
        ids: item id per point.
        xy: ``[N, 2]`` coordinates in the unit square.
        labels: label per point (None: unlabelled).
        method: the projection that made ``xy`` (what the page shows).
        seed: seed of the order.
    """

    def __init__(
        self,
        ids: Sequence[str],
        xy: np.ndarray,
        labels: Sequence[str | None],
        method: str,
        seed: int = 0,
    ) -> None:
        order = np.random.default_rng(seed).permutation(len(ids))
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        self.method = method
        self.order = order  # point i of this view is row order[i] of the index
        self.row_ids = list(ids)  # the index's ids when the map was made, by row
        self.x = np.round(xy[order, 0], 4)  # float64: 0.1234 stays "0.1234" in JSON
        self.y = np.round(xy[order, 1], 4)
        self.ids = [ids[r] for r in order]
        self.labels = [labels[r] for r in order]
        self.classes = sorted({lab for lab in labels if lab is not None})
        self._cached: tuple[Any, bytes] = (None, b"")  # the whole map's JSON, once encoded
        self.shown = np.ones(len(self.ids), bool)  # False: removed from the collection

    def __len__(self) -> int:
        return len(self.ids)

    def hide(self, item_ids: set[str]) -> None:
        """Leave these items off the map (removed from the collection)."""
        self.shown &= np.array([i not in item_ids for i in self.ids], bool)
        self._cached = (None, b"")

    def _in_box(self, box: tuple[float, float, float, float]) -> np.ndarray:
        x0, y0, x1, y1 = box
        inside = (self.x >= x0) & (self.x <= x1) & (self.y >= y0) & (self.y <= y1)
        return np.flatnonzero(inside & self.shown)

    def points(
        self, box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0), limit: int = MAP_POINTS
    ) -> dict[str, Any]:
        """The first ``limit`` points (in the fixed random order) inside ``box``.

        Returns:
            ``{"method", "classes", "total", "in_view", "view", "points": [{"id", "x", "y",
            "label"}]}``: ``in_view`` counts every point in the box, ``points`` the sample.
        """
        inside = self._in_box(box)
        keep = inside[:limit]
        return {
            "method": self.method,
            "classes": self.classes,
            "total": len(self),
            "in_view": len(inside),
            "view": list(box),
            "points": [
                {"id": self.ids[i], "x": x, "y": y, "label": self.labels[i]}
                for i, x, y in zip(
                    keep.tolist(), self.x[keep].tolist(), self.y[keep].tolist(), strict=True
                )
            ],
        }

    def points_json(
        self, box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0), limit: int = MAP_POINTS
    ) -> bytes:
        """:meth:`points` as JSON bytes; the whole map's answer is encoded once and kept."""
        key = (box, limit)
        if key != self._cached[0]:
            body = json.dumps(self.points(box, limit), separators=(",", ":")).encode()
            if box == (0.0, 0.0, 1.0, 1.0):
                self._cached = (key, body)
            return body
        return self._cached[1]

    def select(
        self,
        box: tuple[float, float, float, float] | None = None,
        polygon: np.ndarray | None = None,
    ) -> np.ndarray:
        """Index rows (sorted) of the points inside a box and, when given, a polygon."""
        if polygon is not None and len(polygon):
            lo, hi = polygon.min(axis=0), polygon.max(axis=0)
            bb = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
            box = bb if box is None else _intersect(box, bb)
        rows = self._in_box(box) if box is not None else np.arange(len(self))
        if polygon is not None and len(polygon) and len(rows):
            from matplotlib.path import Path

            pts = np.column_stack([self.x[rows], self.y[rows]])
            rows = rows[Path(polygon).contains_points(pts)]
        return np.sort(self.order[rows])


def _intersect(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float, float]:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def parse_box(text: str) -> tuple[float, float, float, float] | None:
    """``"x0,y0,x1,y1"`` in map coordinates (corners in any order); "" is no box.

    Raises:
        GeometryError: not four finite numbers.
    """
    if not text.strip():
        return None
    vals = _numbers(text.replace(";", ","), "box")
    if len(vals) != 4:
        raise GeometryError(f"a box is four numbers x0,y0,x1,y1; got {len(vals)}")
    x0, y0, x1, y1 = vals
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def parse_polygon(text: str) -> np.ndarray | None:
    """``"x,y;x,y;..."`` (at least 3 and at most :data:`MAX_POLYGON` vertices); "" is none.

    Raises:
        GeometryError: a vertex that is not two finite numbers, or too few or too many.
    """
    if not text.strip():
        return None
    verts = [v for v in text.split(";") if v.strip()]
    if not 3 <= len(verts) <= MAX_POLYGON:
        raise GeometryError(f"a polygon has 3 to {MAX_POLYGON} vertices; got {len(verts)}")
    out = []
    for v in verts:
        xy = _numbers(v, "polygon")
        if len(xy) != 2:
            raise GeometryError(f"a polygon vertex is x,y; got {v.strip()[:40]!r}")
        out.append(xy)
    return np.asarray(out, np.float64)


def _numbers(text: str, what: str) -> list[float]:
    try:
        vals = [float(t) for t in text.split(",")]
    except ValueError:
        raise GeometryError(f"the {what} holds something that is not a number") from None
    if not all(np.isfinite(vals)):
        raise GeometryError(f"the {what} holds a number that is not finite")
    return vals


class RowMap:
    """Map points (index rows) to the browser's catalog rows, for a selection."""

    def __init__(self, ids: Sequence[str], row_of: dict[str, int]) -> None:
        self.rows = np.array([row_of.get(i, -1) for i in ids], np.int64)  # -1: not browsed

    def take(self, selected: np.ndarray) -> np.ndarray:
        """Catalog rows of the selected index rows (those not in the catalog left out)."""
        rows = self.rows[selected]
        return rows[rows >= 0]
