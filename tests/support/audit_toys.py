"""The toy bundle with an audit: a copy of the service toys' bundle plus ``audit/``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def add_audit(bundle: Path, data: Path, cache: Path) -> None:
    """Audit the toy collection into ``bundle/audit`` (toy encoders, few epochs)."""
    from service_toys import ToyImageEncoder, ToyTextEncoder

    from pictext.audit import AuditConfig, audit_dataset
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    ds = load_dataset(data)
    feats = embed_dataset(ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=cache, progress=False)
    cfg = AuditConfig(folds=3, epochs=5, patience=5)
    audit_dataset(ds, cfg, features=feats).save(bundle / "audit")


def audited_bundle(toy_root: Path, out: Path) -> Path:
    """``out/bundle``: the toy bundle of ``toy_root`` with an audit of its collection."""
    shutil.copytree(toy_root / "bundle", out / "bundle")
    add_audit(out / "bundle", toy_root / "data", toy_root / "cache")
    (out / "bundle" / "bundle.json").write_text(json.dumps({"dataset": str(toy_root / "data")}))
    return out / "bundle"
