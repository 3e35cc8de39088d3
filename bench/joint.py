"""The joint image-text space against today's image-only ranking head and the raw embeddings.

    .venv/bin/python bench/joint.py                          # tuxpaint and openclipart, 3 seeds
    .venv/bin/python bench/joint.py --datasets tuxpaint --seeds 0

For each collection (openclipart with label and folder words stripped from its text) and each
seed, the rank split (``pictext rank train``'s holdout) is drawn; every head is fitted on the
train side and chosen on the validation side (the joint head's settings from :data:`GRID` by
its validation score: held-out triplet accuracy of image-only, text-only and full queries
against full items). The test side's items are the queries; the index is every other item of
the collection with its image and text (what ``pictext index build`` indexes).

Similar: P@10 and mAP (same class = relevant) with the query as image only, image + title, and
title only. Spaces: ``raw`` (unit image embedding; a title is searched against the items' text
embeddings, text-to-text), ``head`` (today's default ranking head, image only: a title changes
nothing and cannot be searched alone), ``joint`` (the ranking head over image and text with
modality dropout and cross-modal InfoNCE).

Text to picture: the query is a test item's title; the index holds that item *without its
text* (image only) among the others. Recall@10 of the item itself and class P@10, against
random and against text-to-text search (raw text embeddings, over the items that have text).
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import dataclass

import numpy as np

from pictext.core import defaults
from pictext.core.vectors import unit_rows
from pictext.data import load_dataset
from pictext.data.split import split_dataset
from pictext.rank.head import RankingHead
from pictext.report import markdown_table
from pictext.store import embed_dataset
from pictext.store.features import Features

# Joint-head settings tried on validation: (embed_dim, align_weight, modality_dropout).
GRID: tuple[tuple[int, float, float], ...] = tuple(
    itertools.product((256, 1024), (0.0, 1.0), (0.5,))
)
K = 10


@dataclass
class Views:
    """Features of the same rows with some inputs removed."""

    full: Features
    image: Features  # image only
    image_title: Features  # image + title
    title: Features  # title only


def views(f: Features) -> Views:
    n = f.n
    none = np.zeros(n, bool)

    def make(image: bool, field: str | None) -> Features:
        text = {"text": f.text[field if field else "text"]}
        mask = {"text": f.text_mask[field] if field else none}
        return Features(
            f.ids,
            f.image,
            f.image_mask if image else none,
            text,
            mask,
            image_encoder=f.image_encoder,
            text_encoder=f.text_encoder,
        )

    return Views(make(True, "text"), make(True, None), make(True, "title"), make(False, "title"))


def scores(q: np.ndarray, items: np.ndarray, qy: np.ndarray, iy: np.ndarray) -> tuple[float, float]:
    """Class P@K and mAP of query vectors against item vectors (cosine)."""
    sims = unit_rows(q) @ unit_rows(items).T
    order = np.argsort(-sims, axis=1, kind="stable")
    rel = iy[order] == qy[:, None]
    n_rel = rel.sum(axis=1)
    prec = np.cumsum(rel, axis=1) / np.arange(1, rel.shape[1] + 1)
    ap = np.where(n_rel > 0, (prec * rel).sum(axis=1) / np.maximum(n_rel, 1), 0.0)
    return float(rel[:, :K].mean()), float(ap.mean())


def fit(
    train: Features, ytr: np.ndarray, val: Features, yval: np.ndarray, pairs=None, **cfg
) -> RankingHead:
    return RankingHead(progress=False, **cfg).fit(
        train, ytr, eval_features=val, eval_labels=yval, pairs=pairs
    )


def best_val(head: RankingHead) -> float:
    return max(h["val_triplet_acc"] for h in head.history)


def choose_joint(train, ytr, val, yval, seed: int, pairs=None) -> tuple[RankingHead, tuple]:
    best = None
    for dim, align, drop in GRID:
        head = fit(
            train, ytr, val, yval, pairs, embed_dim=dim, use_text=True, align_weight=align,
            modality_dropout=drop, seed=seed,
        )  # fmt: skip
        if best is None or best_val(head) > best_val(best[0]):
            best = (head, (dim, align, drop))
    assert best is not None
    return best


def run(name: str, seed: int) -> list[dict]:
    strip = name == "openclipart"
    ds = load_dataset(name, strip_label_words=strip)
    feats = embed_dataset(ds, defaults.IMAGE_ENCODER, defaults.TEXT_ENCODER, progress=False)
    y = np.asarray(ds.labels())
    rows = split_dataset(ds, holdout=defaults.RANK_HOLDOUT, seed=seed).rows(
        [it.id for it in ds.items]
    )
    ok = feats.image_mask & feats.text_mask["text"]  # items with both: queries and index
    test = rows.test[ok[rows.test]]
    t0 = time.perf_counter()
    head = fit(
        feats.subset(rows.train), y[rows.train], feats.subset(rows.val), y[rows.val], seed=seed
    )
    joint, chosen = choose_joint(
        feats.subset(rows.train), y[rows.train], feats.subset(rows.val), y[rows.val], seed
    )
    fit_s = time.perf_counter() - t0
    v = views(feats)
    out = []
    # Every other item is indexed with its image and text; each test item queries it.
    index_rows = np.flatnonzero(ok)

    def table(space: str, pair) -> None:
        """``pair(view)``: (query vectors of every row, index vectors of every row) or None."""
        for mode, view in (("image", v.image), ("image+title", v.image_title), ("title", v.title)):
            got = pair(view)
            if got is None:
                continue
            q, items = got[0], got[1][index_rows]
            p10s, maps = [], []
            for r in test:  # drop the query item from the index
                keep = index_rows != r
                p, m = scores(q[r : r + 1], items[keep], y[r : r + 1], y[index_rows][keep])
                p10s.append(p)
                maps.append(m)
            out.append(
                {"dataset": name, "seed": seed, "space": space, "query": mode,
                 "P@10": np.mean(p10s), "mAP": np.mean(maps)}
            )  # fmt: skip

    # raw: the image embedding; a title alone is compared with the items' text (text-to-text)
    table("raw", lambda view: (view.text["text"], feats.text["text"]) if view is v.title
          else (feats.image, feats.image))  # fmt: skip
    head_items = head.transform(v.full)
    table("head (image only)", lambda view: None if view is v.title
          else (head.transform(view), head_items))  # fmt: skip
    joint_items = joint.transform(v.full)
    table("joint", lambda view: (joint.transform(view), joint_items))
    out.append({"dataset": name, "seed": seed, "space": f"joint chosen {chosen}", "fit_s": fit_s})
    out.extend(text_to_picture(name, seed, feats, y, test, index_rows, joint))
    return out


def text_to_picture(name, seed, feats, y, test, index_rows, joint) -> list[dict]:
    """Title queries; the query's own item is indexed without its text."""
    v = views(feats)
    full = joint.transform(v.full)
    image_only = joint.transform(v.image)
    qs = joint.transform(v.title)
    rng = np.random.default_rng(seed)
    res = {"joint": ([], []), "text-to-text": ([], []), "random": ([], [])}
    text_rows = index_rows  # every indexed item has text
    for r in test:
        items = full[index_rows].copy()
        pos = int(np.flatnonzero(index_rows == r)[0])
        items[pos] = image_only[r]
        sims = unit_rows(qs[r : r + 1]) @ unit_rows(items).T
        top = index_rows[np.argsort(-sims[0], kind="stable")[:K]]
        res["joint"][0].append(r in top)
        res["joint"][1].append(np.mean(y[top] == y[r]))
        others = text_rows[text_rows != r]  # its own text is gone: it cannot be found by text
        tsims = unit_rows(feats.text["title"][r : r + 1]) @ unit_rows(feats.text["text"][others]).T
        ttop = others[np.argsort(-tsims[0], kind="stable")[:K]]
        res["text-to-text"][0].append(False)
        res["text-to-text"][1].append(np.mean(y[ttop] == y[r]))
        rtop = rng.choice(index_rows, K, replace=False)
        res["random"][0].append(r in rtop)
        res["random"][1].append(np.mean(y[rtop] == y[r]))
    return [
        {"dataset": name, "seed": seed, "space": f"text→picture {k}",
         "recall@10": float(np.mean(a)), "class P@10": float(np.mean(b))}
        for k, (a, b) in res.items()
    ]  # fmt: skip


def cross(source: str, target: str, seed: int) -> list[dict]:
    """Source-trained spaces queried with the target's test-side items (class mapped).

    ``joint + pairs`` also aligns on the target's *train-side* image-text pairs (unlabelled),
    as ``rank train --joint --pairs-from`` does; its test side stays unseen."""
    from cross_collection import mapping

    src, tgt = load_dataset(source), load_dataset(target)
    fs = embed_dataset(src, defaults.IMAGE_ENCODER, defaults.TEXT_ENCODER, progress=False)
    ft = embed_dataset(tgt, defaults.IMAGE_ENCODER, defaults.TEXT_ENCODER, progress=False)
    ys = np.asarray(src.labels())
    classes = mapping(source, target)
    rs = split_dataset(src, holdout=defaults.RANK_HOLDOUT, seed=seed).rows(
        [it.id for it in src.items]
    )
    rt = split_dataset(tgt, holdout=defaults.RANK_HOLDOUT, seed=seed).rows(
        [it.id for it in tgt.items]
    )
    tr, va = fs.subset(rs.train), fs.subset(rs.val)
    head = fit(tr, ys[rs.train], va, ys[rs.val], seed=seed)
    joint, _ = choose_joint(tr, ys[rs.train], va, ys[rs.val], seed)
    pairs = ft.subset(rt.train)
    jointp, _ = choose_joint(tr, ys[rs.train], va, ys[rs.val], seed, pairs=pairs)
    q = np.array(
        [r for r in rt.test if tgt.items[r].label in classes and ft.image_mask[r]
         and ft.text_mask["title"][r]]
    )  # fmt: skip
    qy = np.array([src.classes.index(classes[tgt.items[r].label]) for r in q])
    index_rows = np.flatnonzero(fs.image_mask & fs.text_mask["text"])
    vs, vt = views(fs), views(ft)
    out = []
    spaces = {
        "raw": (lambda view: view.image, lambda: fs.image),
        "head (image only)": (head.transform, lambda: head.transform(vs.full)),
        "joint": (joint.transform, lambda: joint.transform(vs.full)),
        "joint + target-train pairs": (jointp.transform, lambda: jointp.transform(vs.full)),
    }
    for space, (embed, items_of) in spaces.items():
        items = items_of()[index_rows]
        for mode, view in (("image", vt.image), ("image+title", vt.image_title)):
            if space.startswith(("raw", "head")) and mode != "image":
                continue  # these spaces read the image alone: a title changes nothing
            p, m = scores(embed(view)[q], items, qy, ys[index_rows])
            out.append(
                {"direction": f"{source}→{target}", "seed": seed, "space": space,
                 "query": mode, "P@10": p, "mAP": m}
            )  # fmt: skip
    return out


def summarise(rows: list[dict], keys: tuple[str, ...], metrics: tuple[str, ...]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if all(m in r for m in metrics):
            groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, rs in groups.items():
        row = dict(zip(keys, key, strict=True))
        for m in metrics:
            vals = np.array([r[m] for r in rs]) * 100
            row[m] = f"{vals.mean():.1f} ± {vals.std():.1f}"
        row["seeds"] = len(rs)
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["tuxpaint", "openclipart"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--cross", action="store_true", help="Only the across-collections table.")
    args = ap.parse_args()
    if args.cross:
        got: list[dict] = []
        for source, target in (("tuxpaint", "openclipart"), ("openclipart", "tuxpaint")):
            for seed in args.seeds:
                got.extend(cross(source, target, seed))
                print(f"{source}→{target} seed {seed} done", flush=True)
        print("\nAcross collections: similar P@10 / mAP of the target's test items (%)")
        print(markdown_table(summarise(got, ("direction", "space", "query"), ("P@10", "mAP"))))
        return
    rows: list[dict] = []
    for name in args.datasets:
        for seed in args.seeds:
            t = time.perf_counter()
            got = run(name, seed)
            rows.extend(got)
            chosen = [r["space"] for r in got if str(r["space"]).startswith("joint chosen")]
            print(f"{name} seed {seed}: {time.perf_counter() - t:.0f} s; {chosen[0]}", flush=True)
    print("\nSimilar: test queries against the rest of the collection (mean ± std over seeds, %)")
    print(markdown_table(summarise(rows, ("dataset", "space", "query"), ("P@10", "mAP"))))
    print("\nText to picture: a title finds its own item indexed without text")
    print(markdown_table(summarise(rows, ("dataset", "space"), ("recall@10", "class P@10"))))


if __name__ == "__main__":
    main()
