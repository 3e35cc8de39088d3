"""Is the validation side a fair stand-in for the test side? One fixed model, both sides.

    .venv/bin/python bench/split_balance.py openclipart --strip-label-words
    .venv/bin/python bench/split_balance.py tuxpaint

For each seed of Table 3's split (``classify.table3.classify_split``: per class, duplicate
groups on one side), a logistic regression on the cached image + concatenated-text
embeddings (fixed C, no early stopping, so validation chooses nothing) is fitted on train and
scored on validation and test, beside the share of each side's items that belong to a
duplicate group of two or more. If validation and test were drawn alike, the two accuracies
would differ only by noise.
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

from pictext.classify.runs import features_for, load_labelled
from pictext.classify.table3 import classify_split
from pictext.core import defaults
from pictext.data.split import duplicate_groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("--strip-label-words", action="store_true")
    ap.add_argument("--seeds", default=",".join(map(str, defaults.TABLE3_SEEDS)))
    ap.add_argument("--c", type=float, default=0.05, help="inverse regularisation (fixed)")
    args = ap.parse_args()

    ds = load_labelled(args.dataset, strip_label_words=args.strip_label_words)
    feats = features_for(ds, progress=False)(defaults.TABLE3_IMAGE_ENCODERS[0], "use")
    x = np.hstack([feats.image, feats.text["text"]])
    classes = sorted({it.label for it in ds.items})
    y = np.array([classes.index(it.label) for it in ds.items])
    groups = np.asarray(duplicate_groups(ds))
    grouped = np.bincount(groups)[groups] > 1

    table = Table(title=f"{args.dataset}: validation vs test, one fixed model")
    for col in (
        "seed",
        "train / val / test",
        "val top-1",
        "test top-1",
        "val − test",
        "grouped items val",
        "grouped items test",
    ):
        table.add_column(col, justify="right")
    for seed in (int(s) for s in args.seeds.split(",")):
        sp = classify_split(ds, seed=seed, groups=groups).rows(feats.ids)
        clf = LogisticRegression(C=args.c, max_iter=300).fit(x[sp.train], y[sp.train])
        val, test = ((clf.predict(x[s]) == y[s]).mean() * 100 for s in (sp.val, sp.test))
        table.add_row(
            str(seed),
            f"{len(sp.train)} / {len(sp.val)} / {len(sp.test)}",
            f"{val:.1f}",
            f"{test:.1f}",
            f"{val - test:+.1f}",
            f"{grouped[sp.val].mean():.0%}",
            f"{grouped[sp.test].mean():.0%}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
