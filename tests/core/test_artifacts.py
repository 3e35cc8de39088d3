"""The artifact protocol: layout, atomic folder writes, format/version refusals, encoder check."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from pictext.core import artifacts, atomic
from pictext.core.artifacts import (
    CAPTIONER,
    CLASSIFIER,
    INDEX,
    KINDS,
    RANKING_HEAD,
    ArtifactError,
    ArtifactFormatError,
    ArtifactNotFoundError,
    ArtifactVersionError,
    EncoderMismatchError,
    check_encoder,
    kind_of,
    load_artifact,
    save_artifact,
)

ARRAYS = {
    "w": np.arange(6, dtype=np.float32).reshape(2, 3),
    "rows": np.array([3, 1, 2], np.int64),
    "mask": np.array([True, False]),
    "empty": np.zeros((0, 4), np.float32),
}


def _save(path: Path, value: float = 1.0, **kw) -> Path:
    return save_artifact(path, CLASSIFIER, {"value": value}, {"w": np.full(3, value)}, **kw)


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def _header(path: Path, **meta) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(meta))
    return path


# ---- layout and round trip ------------------------------------------------------------------
def test_round_trip_keeps_config_arrays_and_dtypes(tmp_path: Path) -> None:
    extra = {"notes.txt": lambda p: p.write_text("hi")}
    d = save_artifact(tmp_path / "a", INDEX, {"n": 2, "name": "x"}, ARRAYS, extra_files=extra)
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors", "notes.txt"]
    meta = json.loads((d / "config.json").read_text())
    assert (meta["format"], meta["version"]) == ("pictext-index", INDEX.version)
    config, arrays = load_artifact(d, INDEX)
    assert config == {"n": 2, "name": "x"}  # the header is checked, then left out
    assert set(arrays) == set(ARRAYS)
    for name, want in ARRAYS.items():
        assert arrays[name].dtype == want.dtype
        np.testing.assert_array_equal(arrays[name], want)
    assert kind_of(d) is INDEX
    assert _siblings(d) == ["a"]


def test_header_keys_are_reserved(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        save_artifact(tmp_path / "a", INDEX, {"version": 3}, {})
    assert not (tmp_path / "a").exists()


def test_object_arrays_are_refused_not_pickled(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="object"):
        save_artifact(tmp_path / "a", INDEX, {}, {"x": np.array([{"a": 1}], dtype=object)})
    assert list(tmp_path.iterdir()) == []


# ---- the atomic folder write -----------------------------------------------------------------
def test_a_failing_write_leaves_the_old_folder_and_no_temp_folder(tmp_path: Path) -> None:
    d = _save(tmp_path / "m", 1.0)
    before = {p.name: p.read_bytes() for p in d.iterdir()}

    def crash(path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        _save(d, 2.0, extra_files={"big.bin": crash})
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    assert _siblings(d) == ["m"]
    assert load_artifact(d, CLASSIFIER)[0] == {"value": 1.0}


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "move-aside"])
def test_a_new_write_replaces_the_old_folder_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    d = _save(tmp_path / "m", 1.0, extra_files={"old.txt": lambda p: p.write_text("x")})
    _save(d, 2.0)
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors"]
    config, arrays = load_artifact(d, CLASSIFIER)
    assert config == {"value": 2.0}
    np.testing.assert_array_equal(arrays["w"], np.full(3, 2.0))
    assert _siblings(d) == ["m"]


def test_a_crash_between_renames_keeps_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _save(tmp_path / "m", 1.0)
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real = os.rename

    def rename(src, dst) -> None:
        if Path(src).name.endswith(".tmp"):  # the new folder's move into place
            raise OSError("power cut")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "rename", rename)
    with pytest.raises(OSError, match="power cut"):
        _save(d, 2.0)
    monkeypatch.undo()
    assert load_artifact(d, CLASSIFIER)[0] == {"value": 1.0}
    assert _siblings(d) == ["m"]


def test_atomic_folder_gives_the_mode_mkdir_would(tmp_path: Path) -> None:
    with atomic.atomic_folder(tmp_path / "new") as tmp:
        (tmp / "f").write_text("x")
    (tmp_path / "plain").mkdir()
    assert (tmp_path / "new").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_a_folder_of_other_files_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="no saved pictext artifact"):
        _save(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    with pytest.raises(FileExistsError, match="not a folder"):
        _save(tmp_path / "mine.txt")


def test_an_old_layout_folder_may_be_rebuilt_in_place(tmp_path: Path) -> None:
    old = _header(tmp_path / "m", format="pictext.fusion/1")
    (old / "model.safetensors").write_bytes(b"old weights")
    _save(old, 3.0)
    assert load_artifact(old, CLASSIFIER)[0] == {"value": 3.0}


# ---- refusals: one line naming the path, what was found, what was expected, how to rebuild --
def _one_line(err: pytest.ExceptionInfo, path: Path, *parts: str) -> None:
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert "rebuild it with: pictext " in msg or "pass the folder of a saved " in msg
    for part in parts:
        assert part in msg, (part, msg)


def test_loading_another_kind_is_refused(tmp_path: Path) -> None:
    d = save_artifact(tmp_path / "ix", INDEX, {}, ARRAYS)
    with pytest.raises(ArtifactFormatError) as err:
        load_artifact(d, CLASSIFIER)
    _one_line(err, d, "a search index ('pictext-index')", "pictext-classifier version 1")
    _one_line(err, d, "it holds a search index; pass the folder of a saved fusion classifier")
    assert "pictext train" not in str(err.value)  # it would overwrite the index
    _header(tmp_path / "odd", format="something-else", version=1)
    with pytest.raises(ArtifactFormatError, match="format 'something-else'"):
        load_artifact(tmp_path / "odd", RANKING_HEAD)


@pytest.mark.parametrize(("version", "age"), [(0, "older"), (2, "newer"), (None, "older")])
def test_other_versions_are_refused(tmp_path: Path, version: int | None, age: str) -> None:
    d = _header(tmp_path / "c", format="pictext-captioner", version=version)
    with pytest.raises(ArtifactVersionError) as err:
        load_artifact(d, CAPTIONER)
    _one_line(err, d, f"version {version!r} ({age} pictext)", "captioner (pictext-captioner")
    _one_line(err, d, "pictext caption-train")


@pytest.mark.parametrize(
    ("kind", "old", "header"),
    [
        (CLASSIFIER, "pictext.fusion/1", "config.json"),
        (RANKING_HEAD, "pictext-ranking-head/1", "config.json"),
        (CAPTIONER, "pictext.captioner/1", "config.json"),
        (INDEX, "pictext-index/1", "manifest.json"),
    ],
)
def test_layouts_from_before_the_protocol_are_named(tmp_path, kind, old, header) -> None:
    d = tmp_path / "old"
    d.mkdir()
    (d / header).write_text(json.dumps({"format": old, "config": {}}))
    assert kind_of(d) is kind
    with pytest.raises(ArtifactVersionError) as err:
        load_artifact(d, kind)
    _one_line(err, d, f"in the old {old!r} layout", f"{kind.name} version {kind.version}")


def test_missing_folder_header_or_weights(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError) as err:
        load_artifact(tmp_path / "absent", CLASSIFIER)
    _one_line(err, tmp_path / "absent", "no such folder", "fusion classifier")
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError, match=r"no config\.json, so not a saved fusion class"):
        load_artifact(tmp_path, CLASSIFIER)
    d = _save(tmp_path / "m")
    (d / "model.safetensors").unlink()
    with pytest.raises(ArtifactNotFoundError, match=r"no model\.safetensors: the saved fusion"):
        load_artifact(d, CLASSIFIER)


def test_unreadable_files_are_refused_clearly(tmp_path: Path) -> None:
    d = _save(tmp_path / "m")
    (d / "model.safetensors").write_bytes(b"\x01garbage")
    with pytest.raises(ArtifactFormatError, match=r"model\.safetensors is unreadable"):
        load_artifact(d, CLASSIFIER)
    (d / "config.json").write_text("{not json")
    with pytest.raises(ArtifactFormatError, match=r"config\.json is unreadable"):
        load_artifact(d, CLASSIFIER)
    (d / "config.json").write_text("[1, 2]")
    with pytest.raises(ArtifactFormatError, match="does not hold a JSON object"):
        load_artifact(d, CLASSIFIER)


def test_errors_survive_pickling(tmp_path: Path) -> None:
    err = ArtifactVersionError(tmp_path, "version 0", CLASSIFIER)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ArtifactVersionError
    assert str(back) == str(err)
    assert back.problem == "version 0"
    assert back.kind == CLASSIFIER
    enc = pickle.loads(pickle.dumps(EncoderMismatchError("m", "a@1", "a@2")))
    assert (str(enc), enc.recorded, enc.found) == ("m", "a@1", "a@2")


def test_registry_names_are_distinct() -> None:
    # classifier, ranking head, index, captioner, audit, bundle, the ensemble's linear member
    assert len(KINDS) == 7
    assert "pictext-audit" in KINDS
    assert all(name == kind.name and kind.version >= 1 for name, kind in KINDS.items())
    legacy = [k.legacy for k in KINDS.values() if k.legacy]
    assert len(set(legacy)) == len(legacy) == 4


# ---- every loader of the package refuses old and wrong folders with the one error ----------
def _loaders():
    from pictext.caption.captioner import Captioner
    from pictext.classify.fusion import FusionClassifier
    from pictext.rank.head import RankingHead
    from pictext.rank.index import SearchIndex

    return [
        (FusionClassifier.load, CLASSIFIER, "pictext.fusion/1"),
        (RankingHead.load, RANKING_HEAD, "pictext-ranking-head/1"),
        (SearchIndex.load, INDEX, "pictext-index/1"),
        (Captioner.load, CAPTIONER, "pictext.captioner/1"),
    ]


@pytest.mark.parametrize("i", range(4))
def test_every_loader_refuses_old_wrong_and_missing_folders(tmp_path: Path, i: int) -> None:
    pytest.importorskip("torch")
    load, kind, old = _loaders()[i]
    legacy = _header(tmp_path / "legacy", format=old, config={}, classes=[])
    with pytest.raises(ArtifactVersionError, match=f"old '{old}' layout"):
        load(legacy)
    other = CAPTIONER if kind is not CAPTIONER else CLASSIFIER
    wrong = save_artifact(tmp_path / "wrong", other, {}, {"x": np.zeros(1, np.float32)})
    with pytest.raises(ArtifactFormatError, match=f"holds a {other.what}"):
        load(wrong)
    with pytest.raises(ArtifactNotFoundError, match="no such folder"):
        load(tmp_path / "absent")
    for err in (ArtifactVersionError, ArtifactFormatError, ArtifactNotFoundError):
        assert issubclass(err, ArtifactError)


def test_weights_that_do_not_fit_the_model_are_refused(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from heads_synth import make_features

    from pictext.classify.fusion import FusionClassifier

    feats, y = make_features(40, 4, seed=0)
    clf = FusionClassifier(epochs=1, hidden=8, tune_dim=8, image_tune_dim=8).fit(feats, y)
    d = clf.save(tmp_path / "m")
    config, arrays = load_artifact(d, CLASSIFIER)
    arrays.pop(sorted(arrays)[0])
    save_artifact(d, CLASSIFIER, config, arrays)
    with pytest.raises(ArtifactFormatError, match="does not fit the model its config describes"):
        FusionClassifier.load(d)


# ---- the one encoder check -------------------------------------------------------------------
def test_encoder_check_compares_name_and_version() -> None:
    check_encoder("use@3", "use@3")
    check_encoder("use", "use@9")  # a recorded bare name accepts any version
    check_encoder(None, None)
    for recorded, found in [("use@3", "use@4"), ("use@3", "minilm@3"), ("use@3", None)]:
        with pytest.raises(EncoderMismatchError) as err:
            check_encoder(recorded, found, role="text", subject="the index", remedy="rebuild it")
        assert str(err.value) == (
            f"the index was built with text encoder {recorded} but these features come from "
            f"{found}; rebuild it"
        )
        assert (err.value.recorded, err.value.found) == (recorded, found)


def test_features_and_installed_encoders_share_the_check() -> None:
    from pictext.encoders import registry
    from pictext.store import inputs

    assert inputs.EncoderMismatchError is artifacts.EncoderMismatchError
    assert registry.EncoderVersionError is artifacts.EncoderMismatchError
