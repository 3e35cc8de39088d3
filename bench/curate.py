"""Curation cost: an edit's latency, growing a big collection and its index, database size.

    python bench/curate.py                       # 100,000 rows, 1,000 adds, 500 edits
    python bench/curate.py --rows 20000 --json-out runs/bench-curate.json

On a synthetic collection of ``--rows`` items (ids, paths, labels, a title, a description and
three tags each: the shape of a real collection's rows; no image is read):

- edit: p50 / p99 of ``Collection.edit`` (one relabel + a tag, one committed transaction in
  WAL mode with ``synchronous=FULL``, the service's path) over ``--edits`` random items;
- add: ``--adds`` new images (distinct 2 KB byte strings) stored by content hash and
  appended to a ``--rows``-row search index of ``--dim``-d vectors with
  :func:`pictext.rank.grow.add_rows`, against one full rebuild of that index
  (``SearchIndex.build`` on all rows, ``--backend`` exact or hnsw). Embedding is left out of
  both sides (an added image is embedded once either way; a rebuild also re-reads every
  embedding from the cache, not counted here);
- size: the database file (after a WAL checkpoint) per item, seeded and after the edits.

The timings are wall-clock on this machine; the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from pictext.data.collection import Collection
from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.rank.grow import add_rows
from pictext.rank.index import SearchIndex
from pictext.store.features import Features


def synthetic(rows: int) -> Dataset:
    labels = [f"class{c:03d}" for c in range(100)]
    items = [
        Item(
            f"{labels[n % 100]}/{n:07d}.jpg",
            f"/data/{labels[n % 100]}/{n:07d}.jpg",
            title=f"picture number {n} of a {labels[n % 100]}",
            description="a photograph with a short description of what it shows",
            tags=("photo", labels[n % 100], f"t{n % 37}"),
            label=labels[n % 100],
        )
        for n in range(rows)
    ]
    return Dataset("synthetic", items)


def _size(coll: Collection) -> int:
    coll._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return coll.path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--adds", type=int, default=1000)
    ap.add_argument("--edits", type=int, default=500)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--backend", default="exact", choices=["exact", "hnsw"])
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    rng = random.Random(0)
    out: dict = {"rows": args.rows, "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        ds = synthetic(args.rows)
        t = time.perf_counter()
        coll = Collection.create(Path(tmp) / "collection.sqlite", ds)
        out["seed_s"] = round(time.perf_counter() - t, 2)
        out["bytes_per_item_seeded"] = round(_size(coll) / args.rows, 1)
        ids = [it.id for it in ds.items]
        lat = []
        for n in range(args.edits):
            item_id = rng.choice(ids)
            t = time.perf_counter()
            coll.edit(item_id, {"label": f"class{n % 100:03d}", "tags": [f"e{n}"]}, by="bench")
            lat.append(time.perf_counter() - t)
        out["edit_ms_p50"] = round(1000 * float(np.percentile(lat, 50)), 2)
        out["edit_ms_p99"] = round(1000 * float(np.percentile(lat, 99)), 2)
        out["bytes_per_item_after_edits"] = round(_size(coll) / args.rows, 1)

        vecs = np.random.default_rng(0).normal(size=(args.rows + args.adds, args.dim))
        vecs = vecs.astype(np.float32)
        feats = Features(ids, vecs[: args.rows], np.ones(args.rows, bool), image_encoder="b@1")
        index = SearchIndex.build(feats, backend=args.backend)
        t = time.perf_counter()
        for n in range(args.adds):
            data = n.to_bytes(4, "little") * 512
            state, _ = coll.add(data, ".png", by="bench", label="class000")
            add_rows(index, [state.id], vecs[args.rows + n][None], labels=[state.label])
        out["add_s"] = round(time.perf_counter() - t, 2)
        all_ids = ids + [f"added/{n}" for n in range(args.adds)]
        full = Features(all_ids, vecs, np.ones(len(all_ids), bool), image_encoder="b@1")
        t = time.perf_counter()
        SearchIndex.build(full, backend=args.backend)
        out["rebuild_s"] = round(time.perf_counter() - t, 2)
        out["add_over_rebuild"] = round(out["add_s"] / out["rebuild_s"], 2)
        found = index.similar_to(vecs[-1], k=1)[0].id
        out["last_add_found_by_similar"] = found == state.id
        coll.close()
    out["backend"], out["dim"], out["adds"], out["edits"] = (
        args.backend,
        args.dim,
        args.adds,
        args.edits,
    )
    print(json.dumps(out, indent=1))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
