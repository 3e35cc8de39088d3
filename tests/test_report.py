"""The report page: real tables, captioned figures, the terms, and the audit's section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from pictext.audit import AuditConfig, AuditResult
from pictext.audit.duplicates import groups_from_pairs
from pictext.audit.labels import LabelIssues
from pictext.report import markdown_to_html, write_report

TABLE = """# Table 3: toy

sizes: {'train': 6, 'val': 2, 'test': 2}

| model | top-1 | top-5 |
|---|---|---|
| **fusion** | 88.9 ± 1.8 | 97.5 ± 1.0 |
"""


def _audit(tmp: Path, images: Path) -> None:
    ids = ["a", "b", "c", "d"]
    labels = ["cat", "dog", "cat", "dog"]
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.1, 0.9]])
    issues = LabelIssues(p, np.array([0.9, 0.2, 0.7, 0.9]), np.array([0, 1, 0, 0], bool),
                         np.array([1]), p.argmax(1))  # fmt: skip
    dups = {"phash": groups_from_pairs("phash", 4, np.array([0]), np.array([1]), labels)}
    u = np.array([0.1, 0.2, 0.5, np.nan])
    result = AuditResult(
        str(images), AuditConfig(), ids, labels, ["cat", "dog"], u, dups, issues, {"embed": 1.0}
    )
    result.save(tmp / "audit")


def test_report_has_tables_captions_terms_and_the_audit(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "table").mkdir(parents=True)
    (run / "table" / "table3.md").write_text(TABLE)
    Image.new("RGB", (40, 30), "red").save(run / "table" / "confused_pairs.png")
    (run / "rank").mkdir()
    (run / "rank" / "report.json").write_text(json.dumps({"table": [{"space": "raw", "mAP": 0.5}]}))
    _audit(run, tmp_path / "nodata")
    page = write_report(run).read_text()
    assert "<pre>" not in page
    assert page.count("<table>") == 3  # table 3, the ranking table, the audit's counts
    assert "<td><b>fusion</b></td>" in page
    assert "Items per split: train 6, val 2, test 2." in page
    assert "The pairs of classes the classifier mixes up most often" in page
    assert "<dt>score@30</dt>" in page
    assert "Most suspect labels" in page
    assert "dog → cat (0.80)" in page  # item b: given dog, the model says cat
    assert "Duplicates with different labels" in page
    assert "phash: 2 items, cat / dog" in page
    md = (run / "report.md").read_text()
    assert "| model | top-1 | top-5 |" in md


def test_markdown_to_html_keeps_unknown_lines() -> None:
    out = markdown_to_html("note: {not a dict\n\n| a |\n|---|\n| 1 |")
    assert "<p>note: {not a dict</p>" in out
    assert "<td>1</td>" in out


def test_report_shows_the_run_the_ece_and_the_calibration_figures(tmp_path: Path) -> None:
    from pictext import __version__

    run = tmp_path / "run"
    (run / "classifier").mkdir(parents=True)
    metrics = {
        "sizes": {"train": 60, "val": 20, "test": 20},
        "test": {"top1": 81.25, "top5": 97.5, "ece": 5.3, "ece_uncalibrated": 17.0},
        "config": {"inputs": ["image", "title"], "optimizer": "adamw", "epochs": 8},
        "split": {"holdout": 0.4, "seed": 0},
        "data": {"classes": 5},
    }
    (run / "classifier" / "metrics.json").write_text(json.dumps(metrics))
    (run / "bundle.json").write_text(json.dumps({"dataset": "tuxpaint"}))
    for name in ("confusion_matrix.png", "reliability.png"):
        Image.new("RGB", (40, 30), "white").save(run / "classifier" / name)
    page = write_report(run).read_text()
    assert "ECE 5.3% after calibration (17.0% before)" in page
    assert "Test: top-1 81.2%, top-5 97.5%" in page
    assert f"<dt>pictext</dt><dd>{__version__}</dd>" in page
    assert "tuxpaint; 5 classes; items per split: train 60, val 20, test 20" in page
    assert "inputs image, title, optimizer adamw, epochs 8" in page
    assert "the diagonal is each class&#x27;s recall" in page
    assert "before and after temperature calibration" in page


def test_the_best_table3_row_is_marked() -> None:
    from pictext.classify.tables import table_markdown

    row = {"kind": "fusion", "n_seeds": 1, "top1_std": 0.0, "top5": 99.0, "top5_std": 0.0}
    s = {"dataset": "toy", "sizes": {}, "gains": {}}
    s["table"] = [{"row": "fusion", "top1": 80.0} | row, {"row": "tuned", "top1": 81.0} | row]
    md = table_markdown(s)
    assert "| **tuned** (best) | 81.0 ± 0.0 |" in md
    assert "| fusion | 80.0 ± 0.0 |" in md
    assert "<td><b>tuned</b> (best)</td>" in markdown_to_html(md)
