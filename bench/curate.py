"""Curation benchmark: the collection database at 100k rows, edits, adds, index updates.

    python bench/curate.py                   # 100,000 rows, 500 edits, 1,000 adds
    python bench/curate.py --rows 20000 --edits 200 --adds 200 --dim 64

Everything runs in a temporary folder on this machine's disk (SQLite in WAL mode with
``synchronous=FULL``: every acknowledged edit is fsynced, so an edit's time is mostly the
disk's flush). Rows are synthetic items with text of typical length (60-character title,
200-character description, five tags) pointing at one small image (the user's files are only
read); adds are distinct small PNGs, each copied once by content hash beside the database.

Printed: p50 / p99 of one edit (a versioned label change: read, check, write, history row,
commit), the database's bytes per item (after creation and after the edits), the time to
add 1,000 images to the 100k-row collection (files + rows + history), and for the search
index of the same size (exact, ``dim``-wide vectors) the time to append those 1,000 rows one
at a time (``SearchIndex.add_rows``, what ``POST /items`` does) against one full rebuild
(``SearchIndex.build``). Times are wall-clock on a machine that may be shared: compare the
rows of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pictext.collection.store import Collection
from pictext.data.item import Item
from pictext.rank.index import SearchIndex
from pictext.store.features import Features

WORDS = [
    "red",
    "blue",
    "cat",
    "dog",
    "tree",
    "house",
    "sun",
    "car",
    "boat",
    "bird",
    "fish",
    "star",
    "moon",
    "flower",
    "road",
    "hill",
]


def _items(n: int, image: Path, rng: random.Random) -> list[Item]:
    def text(chars: int) -> str:
        out = ""
        while len(out) < chars:
            out += rng.choice(WORDS) + " "
        return out[:chars].strip()

    return [
        Item(
            f"class{i % 50}/item{i:06d}.png",
            str(image),
            title=text(60),
            description=text(200),
            tags=tuple(rng.sample(WORDS, 5)),
            label=f"class{i % 50}",
        )
        for i in range(n)
    ]


def _png(i: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (i % 256, (i // 256) % 256, 7)).save(buffer, format="PNG")
    return buffer.getvalue()


def _size(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--edits", type=int, default=500)
    parser.add_argument("--adds", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=128, help="index vector width")
    args = parser.parse_args()
    rng = random.Random(0)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        image = root / "one.png"
        image.write_bytes(_png(0))
        db = root / "collection.sqlite"
        items = _items(args.rows, image, rng)
        start = time.perf_counter()
        col = Collection.create(db, items, source="synthetic")
        rows.append((f"create {args.rows:,} rows", f"{time.perf_counter() - start:.2f} s"))
        rows.append(("db bytes per item (created)", f"{_size(db) / args.rows:.0f}"))

        ids = [it.id for it in items]
        times = []
        for _ in range(args.edits):
            item_id = rng.choice(ids)
            version = col.get(item_id, history=False).version
            t = time.perf_counter()
            col.edit(item_id, {"label": f"class{rng.randrange(50)}"}, version=version, by="b")
            times.append(time.perf_counter() - t)
        ms = np.array(times) * 1000
        rows.append((f"edit p50 ({args.edits} edits)", f"{np.percentile(ms, 50):.2f} ms"))
        rows.append((f"edit p99 ({args.edits} edits)", f"{np.percentile(ms, 99):.2f} ms"))
        rows.append(("db + WAL bytes per item (after edits)", f"{_size(db) / args.rows:.0f}"))

        pngs = [_png(i + 1) for i in range(args.adds)]
        start = time.perf_counter()
        for i, data in enumerate(pngs):
            col.add(data, ".png", title=f"added {i}", tags=["new"], label="class0", by="b")
        took = time.perf_counter() - start
        rows.append((f"add {args.adds:,} images to the collection", f"{took:.2f} s"))
        col.close()

        x = np.random.default_rng(0).standard_normal((args.rows, args.dim)).astype(np.float32)
        feats = Features([f"r{i}" for i in range(args.rows)], image=x, image_encoder="bench@1")
        index = SearchIndex.build(feats, labels=[None] * args.rows)
        new = np.random.default_rng(1).standard_normal((args.adds, args.dim)).astype(np.float32)
        each = []
        for i in range(args.adds):
            t = time.perf_counter()
            index.add_rows([f"n{i}"], [None], [""], new[i : i + 1])
            each.append(time.perf_counter() - t)
        added = sum(each)
        assert index.similar_to(new[-1], k=1)[0].id == f"n{args.adds - 1}"
        feats_all = Features(
            [*feats.ids, *(f"n{i}" for i in range(args.adds))],
            image=np.concatenate([x, new]),
            image_encoder="bench@1",
        )
        start = time.perf_counter()
        SearchIndex.build(feats_all, labels=[None] * feats_all.n)
        rebuilt = time.perf_counter() - start
        rows.append((f"index: append {args.adds:,} rows one by one", f"{added:.3f} s"))
        rows.append(("  of which the first (one copy into a growable buffer)", f"{each[0]:.3f} s"))
        rows.append(("  median of the others", f"{np.median(each[1:]) * 1e6:.0f} us"))
        rows.append((f"index: one full rebuild ({feats_all.n:,} rows)", f"{rebuilt:.3f} s"))

    rows.append(("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
