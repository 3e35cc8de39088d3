"""The audit: label errors found by confident learning, duplicates three ways, uniqueness,
the saved run, and ``pictext audit`` on a small folder collection with toy encoders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pictext.audit import AuditConfig, AuditResult, audit_dataset
from pictext.audit import duplicates as dup
from pictext.audit.labels import find_label_issues, out_of_fold_probs
from pictext.audit.outliers import uniqueness
from pictext.classify.fusion import FusionConfig
from pictext.core.artifacts import CLASSIFIER, ArtifactFormatError, save_artifact
from pictext.store.features import Features

pytest.importorskip("cleanlab")
pytest.importorskip("imagehash")

SUPPORT = Path(__file__).parents[1] / "support"
TINY = dict(
    inputs=("image",), epochs=40, patience=40, hidden=16, image_tune_dim=8, lr=1e-2,
    batch_size=16, dropout=0.0, input_dropout=0.0, modality_dropout=0.0, label_smoothing=0.0,
)  # fmt: skip


def _blobs(n_per: int = 30, classes: int = 3, seed: int = 0) -> tuple[Features, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per)
    centres = np.eye(classes, 6) * 6
    x = (centres[y] + rng.normal(size=(len(y), 6))).astype(np.float32)
    ids = [str(i) for i in range(len(y))]
    return Features(ids=ids, image=x, image_mask=np.ones(len(y), bool), image_encoder="t@1"), y


def test_flipped_labels_are_found_and_clean_ones_kept() -> None:
    feats, y = _blobs()
    flipped = np.array([3, 17, 40, 55, 71, 88])
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + 1) % 3
    p = out_of_fold_probs(feats, noisy, FusionConfig(**TINY), folds=5, classes=["a", "b", "c"])
    found = find_label_issues(noisy, p)
    hits = set(found.ranked.tolist()) & set(flipped.tolist())
    assert len(hits) >= 5, found.ranked
    assert len(found.ranked) <= len(flipped) + 3  # few clean items doubted
    assert set(np.argsort(found.quality)[:5].tolist()) <= set(flipped.tolist())
    assert p.shape == (90, 3)
    assert np.allclose(p.sum(1), 1)


def test_out_of_fold_refuses_a_class_smaller_than_the_folds() -> None:
    feats, y = _blobs(n_per=4)
    with pytest.raises(ValueError, match="every class with >= 5 items"):
        out_of_fold_probs(feats, y, FusionConfig(**TINY), folds=5)


def test_groups_from_pairs_are_transitive_and_flag_conflicts() -> None:
    labels = ["a", "a", "b", "c", "c", "c"]
    g = dup.groups_from_pairs("x", 6, np.array([0, 1, 3]), np.array([1, 2, 4]), labels)
    assert g.group.tolist() == [0, 0, 0, 3, 3, -1]
    assert g.conflict.tolist() == [True, True, True, False, False, False]
    assert (g.n_groups, g.n_conflicting) == (2, 1)
    assert [r.tolist() for r in g.groups()] == [[0, 1, 2], [3, 4]]
    none = dup.groups_from_pairs("x", 3, np.zeros(0, np.int64), np.zeros(0, np.int64), labels[:3])
    assert (none.groups(), none.members, none.n_groups) == ([], {}, 0)


def test_hash_and_embedding_pairs() -> None:
    h = np.array([0b1111, 0b1110, 0xFF00, 0b1111], dtype=np.uint64)
    ok = np.array([True, True, True, False])
    a, b = dup.hash_pairs(h, ok, max_bits=1)
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 1)]  # row 3 has no image
    assert len(dup.hash_pairs(h, ok, max_bits=0)[0]) == 0
    v = np.array([[1, 0], [1, 0.001], [0, 1]], dtype=np.float32)
    a, b = dup.embedding_pairs(v, np.ones(3, bool), max_distance=0.01)
    assert (a.tolist(), b.tolist()) == ([0], [1])


def test_uniqueness_ranks_the_outlier_first() -> None:
    rng = np.random.default_rng(1)
    v = rng.normal(size=(40, 8)) * 0.05 + 1.0
    v[7] = -1.0  # points the other way
    ok = np.ones(40, bool)
    ok[3] = False
    u = uniqueness(v, ok, k=5)
    assert np.isnan(u[3])
    assert int(np.nanargmax(u)) == 7


# ---- the whole audit, on a folder collection with the toy encoders -------------------------
@pytest.fixture
def collection(tmp_path: Path) -> Path:
    sys.path.insert(0, str(SUPPORT))
    from service_toys import write_dataset

    root = write_dataset(tmp_path / "data")
    # the same file filed under another label, and the same picture saved as a JPEG-free BMP
    shutil.copy(root / "red" / "red0.png", root / "blue" / "copy_of_red0.png")
    Image.open(root / "red" / "red1.png").save(root / "green" / "red1_again.bmp")
    return root


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(SUPPORT))
    from toy_cli import TOYS, toy_entry

    from pictext.encoders import registry

    real_create, real_entry = registry.create_encoder, registry.get_entry
    monkeypatch.setattr(
        registry, "create_encoder", lambda n, **o: TOYS[n]() if n in TOYS else real_create(n, **o)
    )
    monkeypatch.setattr(
        registry, "get_entry", lambda n: toy_entry(n) if n in TOYS else real_entry(n)
    )


def test_audit_finds_the_planted_duplicates_and_round_trips(
    collection: Path, toys: None, tmp_path: Path
) -> None:
    cfg = AuditConfig(image_encoder="toy-image", text_encoder="toy-text", folds=3, epochs=20)
    result = audit_dataset(str(collection), cfg)
    row = {i: r for r, i in enumerate(result.ids)}
    copy, original = row["blue/copy_of_red0.png"], row["red/red0.png"]
    f = result.flags(copy)
    assert f["duplicates"]["bytes"] == {"with": ["red/red0.png"], "label_conflict": True}
    assert result.duplicates["bytes"].n_conflicting == 1
    again = result.flags(row["green/red1_again.bmp"])["duplicates"]
    assert "bytes" not in again
    assert again["phash"]["with"] == ["red/red1.png"]
    assert again["phash"]["label_conflict"]
    assert result.duplicates["phash"].group[original] == result.duplicates["phash"].group[copy]
    assert result.issues is not None
    assert len(result.issues.pred_probs) == len(result.ids)
    assert np.all((result.error_score >= 0) & (result.error_score <= 1))
    assert np.all(np.isfinite(result.uniqueness))

    saved = result.save(tmp_path / "audit")
    back = AuditResult.load(saved)
    assert back.ids == result.ids
    assert back.config == result.config
    assert np.array_equal(back.issues.ranked, result.issues.ranked)
    assert back.flags(copy) == f
    header = json.loads((saved / "config.json").read_text())
    assert header["format"] == "pictext-audit"
    assert header["dataset"] == str(collection)


def test_loading_another_kind_is_a_one_line_error(tmp_path: Path) -> None:
    save_artifact(tmp_path / "clf", CLASSIFIER, {"x": 1}, {"w": np.zeros(2, np.float32)})
    with pytest.raises(ArtifactFormatError, match="expected a collection audit"):
        AuditResult.load(tmp_path / "clf")


def test_cli_audit_writes_the_run_and_refuses_a_missing_dataset(
    collection: Path, tmp_path: Path
) -> None:
    cli = [sys.executable, str(SUPPORT / "toy_cli.py"), "audit"]
    out = tmp_path / "run"
    args = ["--out", str(out), "--no-label-errors", "--json"]
    done = subprocess.run([*cli, str(collection), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["duplicates"]["bytes"] == {"groups": 1, "label_conflicts": 1}
    assert AuditResult.load(out).issues is None
    bad = subprocess.run([*cli, str(tmp_path / "nope"), *args], capture_output=True, text=True)
    assert bad.returncode != 0
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "nope" in bad.stderr
