"""Seed ensembles and routes, chosen on validation (seed 0's split, never test).

    PICTEXT_CACHE=... PYTHONPATH=src python bench/seed_ensembles.py tuxpaint nostrip
    PICTEXT_CACHE=... PYTHONPATH=src python bench/seed_ensembles.py openclipart strip

Trains 5 members (seeds 0-4) of the fusion, image-only and text-only heads (lite0 + use,
Table 3's inputs), each early-stopped and calibrated on validation, and prints validation
top-1 (%) of one member (mean, std over the 5), of the 3- and 5-member probability
averages, on the full rows and with the image or all text removed; the seconds per member
and the size of one member. One JSON line per (head, condition).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from pictext.classify.anchors import ProbAverage
from pictext.classify.fusion import FusionClassifier, FusionConfig
from pictext.classify.runs import features_for, load_labelled
from pictext.classify.table3 import classify_split
from pictext.data.split import duplicate_groups
from pictext.store.inputs import drop_inputs

TEXT_INPUTS = ("title", "description", "tags", "text")
HEADS = {"fusion": ("image", *TEXT_INPUTS), "image": ("image",), "text": TEXT_INPUTS}
CONDITIONS = {"full": (), "no image": ("image",), "no text": ("all_text",)}
SHOWN = {"fusion": tuple(CONDITIONS), "image": ("full",), "text": ("full",)}


def main(name: str, strip: bool, members: int = 5) -> None:
    torch.set_num_threads(1)
    ds = load_labelled(name, strip_label_words=strip)
    split = classify_split(ds, seed=0, groups=duplicate_groups(ds))
    f = features_for(ds, None, progress=False)("efficientnet-lite0", "use")
    y, s = ds.labels(), split.rows([it.id for it in ds.items])
    tr, va, ytr, yva = f.subset(s.train), f.subset(s.val), y[s.train], y[s.val]
    print(name, strip, "sizes", len(s.train), len(s.val), len(s.test), flush=True)

    def acc(model: object, x: object) -> float:
        return 100 * float((model.predict_proba(x).argmax(1) == yva).mean())

    for kind, inputs in HEADS.items():
        ms, secs = [], []
        for j in range(members):
            t = time.perf_counter()
            clf = FusionClassifier(FusionConfig(inputs=inputs, seed=j))
            ms.append(clf.fit(tr, ytr, va, yva, classes=ds.classes).calibrate(va, yva))
            secs.append(time.perf_counter() - t)
        for cond in SHOWN[kind]:
            x = drop_inputs(va, CONDITIONS[cond])
            singles = [acc(m, x) for m in ms]
            row = {
                "single_mean": float(np.mean(singles)),
                "single_std": float(np.std(singles)),
                "singles": singles,
                "ens3": acc(ProbAverage(ms[:3]), x),
                "ens5": acc(ProbAverage(ms), x),
            }
            print(kind, cond, json.dumps(row), flush=True)
        print(kind, "seconds per member", [round(t, 1) for t in secs], flush=True)
        n = sum(p.numel() for p in ms[0].net_.parameters())
        print(kind, "params per member", n, "MB", round(4 * n / 1e6, 2), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] == "strip")
