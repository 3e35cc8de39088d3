"""The map that scales: bounded samples per view, selections sent as geometry, the method
shown is the method run."""

from __future__ import annotations

import numpy as np
import pytest

from pictext.audit.mapview import GeometryError, MapView, parse_box, parse_polygon
from pictext.core.projection import TSNE_MAX, method_used


def _view(n: int = 5000, seed: int = 0) -> tuple[MapView, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2))
    labels = [f"c{r % 3}" for r in range(n)]
    return MapView([f"p{r}" for r in range(n)], xy, labels, "pca"), np.round(xy, 4)


def test_a_view_is_a_bounded_sample_with_the_full_count() -> None:
    view, xy = _view()
    body = view.points(limit=500)
    assert len(body["points"]) == 500
    assert (body["total"], body["in_view"], body["method"]) == (5000, 5000, "pca")
    box = (0.2, 0.3, 0.4, 0.9)
    inside = (xy[:, 0] >= 0.2) & (xy[:, 0] <= 0.4) & (xy[:, 1] >= 0.3) & (xy[:, 1] <= 0.9)
    zoom = view.points(box, limit=100_000)
    assert zoom["in_view"] == inside.sum() == len(zoom["points"])
    assert {p["id"] for p in zoom["points"]} == {f"p{r}" for r in np.flatnonzero(inside)}
    small = view.points(box, limit=50)["points"]
    assert len(small) == 50
    assert all(0.2 <= p["x"] <= 0.4 for p in small)
    # the sample is spread over the view, not its first rows
    assert np.mean([int(p["id"][1:]) for p in view.points(limit=500)["points"]]) > 1500


def test_box_and_lasso_select_the_rows_inside() -> None:
    view, xy = _view()
    rows = view.select((0.1, 0.1, 0.5, 0.6))
    want = np.flatnonzero(
        (xy[:, 0] >= 0.1) & (xy[:, 0] <= 0.5) & (xy[:, 1] >= 0.1) & (xy[:, 1] <= 0.6)
    )
    np.testing.assert_array_equal(rows, want)
    triangle = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    got = view.select(polygon=triangle)
    want = np.flatnonzero(xy.sum(axis=1) < 1.0)
    assert len(np.setxor1d(got, want)) <= 2  # points on the edge may go either way
    assert len(got) > 2000


def test_geometry_is_parsed_or_refused_in_one_line() -> None:
    assert parse_box("0.5,0.6,0.1,0.2") == (0.1, 0.2, 0.5, 0.6)
    assert parse_box("") is None
    assert parse_polygon("0,0;1,0;0,1").shape == (3, 2)
    for bad in ("1,2,3", "a,b,c,d", "0,0,nan,1"):
        with pytest.raises(GeometryError):
            parse_box(bad)
    for bad in ("0,0;1,1", "0,0;1;0,1", ";".join(["0,0"] * 2000)):
        with pytest.raises(GeometryError):
            parse_polygon(bad)


def test_the_method_shown_is_the_method_run() -> None:
    assert method_used("tsne", TSNE_MAX) == "tsne"
    assert method_used("tsne", TSNE_MAX + 1) == "pca"
    assert method_used("umap", 10**6) == "umap"


def test_browse_takes_a_box_and_map_a_view(client) -> None:
    full = client.get("/map").json()
    pts = full["points"]
    assert full["in_view"] == len(pts) == 24
    assert len(client.get("/map", params={"limit": 5}).json()["points"]) == 5
    xs = sorted(p["x"] for p in pts)
    box = f"0,0,{xs[11]},1"  # the left half of the map
    r = client.post("/browse", data={"box": box, "per_page": 100})
    assert r.status_code == 200
    want = {p["id"] for p in pts if p["x"] <= xs[11]}
    assert {h["id"] for h in r.json()["items"]} == want
    assert r.json()["total"] == len(want)
    lasso = "-0.1,-0.1;1.1,-0.1;1.1,1.1;-0.1,1.1"  # points on an edge may go either way
    assert client.post("/browse", data={"polygon": lasso}).json()["total"] == 24
    bad = client.post("/browse", data={"box": "1,2"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "box"
