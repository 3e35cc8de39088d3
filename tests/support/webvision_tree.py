"""A generated tree in WebVision's distributed layout, with known text on every image.

    PYTHONPATH=src python tests/support/webvision_tree.py OUT --items 3000 [--version 2]

Twenty real ImageNet synsets, one query per synonym (``info/queries_*.txt``), images named
``<id>.jpg`` in ``<source>/q0001/`` (``q00001`` for 2.0), one JSON list per query whose
records link to images by ``id`` and include records whose image is gone (``orphan_rate``),
a few file-list entries whose image is missing, meta lists (optional), a validation set.

The text rates below are this generator's assumptions, not WebVision's measured figures:
they make the per-source missing-text table and the query leakage non-trivial, and a reader
that puts text on the wrong image shows up as rates that differ from :func:`truth_rates`.
"""

from __future__ import annotations

import argparse
import io
import json
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SYNSETS = (
    ("n01440764", "tench, Tinca tinca"),
    ("n01443537", "goldfish, Carassius auratus"),
    ("n01484850", "great white shark, white shark, man-eater, Carcharodon carcharias"),
    ("n01491361", "tiger shark, Galeocerdo cuvieri"),
    ("n01494475", "hammerhead, hammerhead shark"),
    ("n01496331", "electric ray, crampfish, numbfish, torpedo"),
    ("n01498041", "stingray"),
    ("n01514668", "cock"),
    ("n01514859", "hen"),
    ("n01518878", "ostrich, Struthio camelus"),
    ("n02012849", "crane"),
    ("n03126707", "crane"),
    ("n02085620", "Chihuahua"),
    ("n02123045", "tabby, tabby cat"),
    ("n02504458", "African elephant, Loxodonta africana"),
    ("n03028079", "church, church building"),
    ("n03417042", "garbage truck, dustcart"),
    ("n03888257", "parachute, chute"),
    ("n03394916", "French horn, horn"),
    ("n03000684", "chain saw, chainsaw"),
)
_FILLER_LINES = (
    "photo summer lake day my new best view trip family beautiful old blue green red "
    "garden home city park river morning evening weekend holiday wallpaper picture hd "
    "download travel nature friends light art design style vintage sale shop world life "
    "love winter spring autumn street beach sea sky sunset night canon nikon dsc camera "
    "museum zoo market festival show collection gallery trip walk visit free top",
)
FILLER = tuple(w for line in _FILLER_LINES for w in line.split())
# assumed share of items with an empty field, per source (google gives no tags)
MISSING = {
    "google": {"title": 0.03, "description": 0.15, "tags": 1.0},
    "flickr": {"title": 0.08, "description": 0.45, "tags": 0.20},
}
# assumed chance that a non-empty field holds the query's text
QUERY_IN = {
    "google": {"title": 0.70, "description": 0.35, "tags": 0.0},
    "flickr": {"title": 0.40, "description": 0.25, "tags": 0.55},
}
CLASS_IN = 0.15  # assumed chance that a description also names the class (its first name)
SOURCE_SHARE = {"google": 0.55, "flickr": 0.45}


@dataclass
class TreeSpec:
    """What to generate."""

    items: int = 3000  # training images listed, both crawls together
    version: int = 1  # 1: q0001 folders, queries_<source>.txt, val_images_256/; 2: q00001,
    # queries.txt, val_images_resized/, Flickr tags as one string
    meta_lists: bool = True  # write info/train_meta_list_<source>.txt
    meta_dir: str = ""  # where google/ and flickr/ JSON files go: "", "meta", "metadata"
    image_dir: str = ""  # where google/ and flickr/ image folders go: "", "train_images_256"
    val_per_class: int = 5  # validation images per class
    orphan_rate: float = 0.05  # JSON records whose image is not in the file list
    missing_image_rate: float = 0.005  # file-list entries whose file is missing
    seed: int = 0


def queries() -> list[tuple[int, str]]:
    """(class index, query text) of every query, in query-index order (1-based)."""
    out = []
    for cls, (_, names) in enumerate(SYNSETS):
        for name in [n.strip() for n in names.split(",")][:2]:
            out.append((cls, name))
    return out


def make_tree(root: Path, spec: TreeSpec) -> dict[str, dict]:
    """Write the tree under ``root``; return what each listed image should read as.

    Returns:
        item id -> ``{"title", "description", "tags", "label_index", "query", "source",
        "exists"}`` (``tags`` as the reader should split them).
    """
    rng = np.random.default_rng(spec.seed)
    info = root / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "synsets.txt").write_text("".join(f"{w} {n}\n" for w, n in SYNSETS), "utf-8")
    qs = queries()
    qfiles = ["queries.txt"] if spec.version == 2 else ["queries_google.txt", "queries_flickr.txt"]
    for name in qfiles:
        (info / name).write_text("".join(f"{i} {t}\n" for i, (_, t) in enumerate(qs, 1)), "utf-8")
    (info / "queries_synsets_map.txt").write_text(
        "".join(f"{i} {c + 1}\n" for i, (c, _) in enumerate(qs, 1)), "utf-8"
    )
    weights = rng.lognormal(0.0, 0.6, len(qs))
    truth: dict[str, dict] = {}
    for source, share in SOURCE_SHARE.items():
        n = round(spec.items * share)
        per_query = np.bincount(
            rng.choice(len(qs), n, p=weights / weights.sum()), minlength=len(qs)
        )
        _write_source(root, spec, rng, source, qs, per_query, truth)
    _write_val(root, spec, rng)
    return truth


def _write_source(root, spec, rng, source, qs, per_query, truth) -> None:
    digits = 5 if spec.version == 2 else 4
    files, metas = [], []
    for qi, ((cls, text), count) in enumerate(zip(qs, per_query, strict=True), start=1):
        folder = f"q{qi:0{digits}d}"
        records, listed = [], []
        for _ in range(int(count)):
            rid = _new_id(rng, source)
            label = SYNSETS[cls][1].split(",")[0]
            record, expected = _record(rng, source, rid, text, label, spec.version)
            if rng.random() < spec.orphan_rate:  # an orphan before it: its image is gone
                orphan = _record(rng, source, _new_id(rng, source), "", "", spec.version)[0]
                records.append(orphan)
            records.append(record)
            rel = f"{source}/{folder}/{rid}.jpg"
            exists = rng.random() >= spec.missing_image_rate
            if exists:
                _write_image(root / spec.image_dir / rel, rng)
            listed.append((rel, len(records)))
            truth[rel] = {**expected, "label_index": cls, "query": text, "source": source,
                          "exists": exists}  # fmt: skip
        meta_rel = f"{source}/{folder}.json"
        path = root / spec.meta_dir / meta_rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(records), "utf-8")
        files += [f"{rel} {cls}\n" for rel, _ in listed]
        metas += [f"{meta_rel} {row}\n" for _, row in listed]
    (root / "info" / f"train_filelist_{source}.txt").write_text("".join(files), "utf-8")
    if spec.meta_lists:
        (root / "info" / f"train_meta_list_{source}.txt").write_text("".join(metas), "utf-8")


def _record(rng, source: str, rid: str, query: str, label: str, version: int) -> tuple[dict, dict]:
    """A JSON record and the fields the reader should make of it."""
    record: dict = {"id": rid}
    expected: dict = {"title": "", "description": "", "tags": ()}
    for name in ("title", "description", "tags"):
        if rng.random() < MISSING[source][name]:
            if name != "tags" or source == "flickr":
                choice = rng.integers(3)  # absent, null or empty
                if choice:
                    record[name] = None if choice == 1 else ("" if name != "tags" else [])
            continue
        words = list(rng.choice(FILLER, 3 if name == "title" else 9))
        if query and rng.random() < QUERY_IN[source][name]:
            words.insert(int(rng.integers(len(words) + 1)), query)
        if label and name == "description" and rng.random() < CLASS_IN:
            words.append(label)
        if name == "tags" and version == 2:  # one string: the reader splits it on spaces
            expected[name] = tuple(dict.fromkeys(w for p in words for w in p.split()))
            record[name] = " ".join(words)
        elif name == "tags":  # a list: multi-word tags stay whole
            expected[name] = tuple(dict.fromkeys(words))
            record[name] = list(words)
        else:
            record[name] = expected[name] = " ".join(words).capitalize()
    if source == "google":
        record["site"] = "example.com"
        record["page_url"] = f"http://example.com/{rid}.html"
    else:
        record["url"] = f"http://farm.example.com/{rid}.jpg"
    return record, expected


def _new_id(rng, source: str) -> str:
    if source == "flickr":
        return str(int(rng.integers(10**9, 10**11)))
    alphabet = np.array(list(string.ascii_letters + string.digits + "_-"))
    return "".join(rng.choice(alphabet, 14))


def _write_image(path: Path, rng) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    path.write_bytes(buf.getvalue())


def _write_val(root: Path, spec: TreeSpec, rng) -> None:
    if spec.val_per_class <= 0:
        return
    folder = root / ("val_images_resized" if spec.version == 2 else "val_images_256")
    lines = []
    for cls in range(len(SYNSETS)):
        for _ in range(spec.val_per_class):
            name = f"val{len(lines) + 1:06d}.jpg"
            _write_image(folder / name, rng)
            lines.append(f"{name} {cls}\n")
    (root / "info" / "val_filelist.txt").write_text("".join(lines), "utf-8")


def truth_rates(truth: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Missing-text share per source and field of the generated training items."""
    out: dict[str, dict[str, float]] = {}
    for source in SOURCE_SHARE:
        rows = [t for t in truth.values() if t["source"] == source]
        out[source] = {f: sum(not t[f] for t in rows) / len(rows) for f in MISSING[source]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--version", type=int, choices=(1, 2), default=1)
    parser.add_argument("--no-meta-lists", action="store_true")
    parser.add_argument("--meta-dir", default="", choices=("", "meta", "metadata"))
    parser.add_argument("--image-dir", default="", choices=("", "train_images_256"))
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    spec = TreeSpec(a.items, a.version, not a.no_meta_lists, a.meta_dir, a.image_dir, seed=a.seed)
    truth = make_tree(a.out, spec)
    print(f"wrote {len(truth)} listed training images to {a.out}")
    for source, rates in truth_rates(truth).items():
        cells = ", ".join(f"{f} {100 * r:.1f}%" for f, r in rates.items())
        print(f"  generated {source}: missing {cells}")


if __name__ == "__main__":
    main()
