"""What the vector cache does when the disk goes wrong: damaged shards, read-only or full
folders, stale files of killed runs, transient failures. Fake encoders, generated items."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from store_fakes import CountingImageEncoder, CountingTextEncoder, make_items

from pictext.core.errors import StateError, one_line
from pictext.data.dataset import Dataset
from pictext.store import EmbedReport, VectorCache, embed_dataset
from pictext.store.cache import KEY_DTYPE

IMAGE_SHARDS = Path("embeddings") / "fake-image@1"


def run(items, cache, image=None, report=None):
    return embed_dataset(
        Dataset("toy", items),
        image or CountingImageEncoder(),
        CountingTextEncoder(),
        cache_dir=cache,
        progress=False,
        report=report,
    )


def _truncate_vectors(shard: Path) -> None:
    path = shard.with_suffix(".vecs.npy")
    path.write_bytes(path.read_bytes()[:-20])  # header whole, rows cut


def _empty_keys(shard: Path) -> None:
    shard.with_suffix(".keys.npy").write_bytes(b"")


def _corrupt_keys(shard: Path) -> None:
    shard.with_suffix(".keys.npy").write_bytes(os.urandom(300))


def _object_keys(shard: Path) -> None:  # a pickle-needing array: never loaded
    np.save(shard.with_suffix(".keys.npy"), np.array([{"a": 1}] * 8, object), allow_pickle=True)


def _missing_vectors(shard: Path) -> None:
    shard.with_suffix(".vecs.npy").unlink()


def _short_vectors(shard: Path) -> None:  # fewer rows than keys
    np.save(shard.with_suffix(".vecs.npy"), np.zeros((3, CountingImageEncoder.dim), np.float32))


def _changed_vectors(shard: Path) -> None:  # bytes changed inside, the size unchanged
    path = shard.with_suffix(".vecs.npy")
    data = bytearray(path.read_bytes())
    data[-64:] = os.urandom(64)
    path.write_bytes(bytes(data))


def _nan_without_checksum(shard: Path) -> None:  # a shard written before checksums: NaN inside
    path = shard.with_suffix(".vecs.npy")
    vecs = np.load(path)
    vecs[2, 1] = np.nan
    np.save(path, vecs)
    shard.with_suffix(".vecs.crc32").unlink()


def _inf_with_new_checksum(shard: Path) -> None:  # the checksum matches, the values do not
    from pictext.store.cache import write_checksum

    path = shard.with_suffix(".vecs.npy")
    vecs = np.load(path)
    vecs[5, 0] = np.inf
    np.save(path, vecs)
    write_checksum(path)


DAMAGE = {
    "truncated vectors": (_truncate_vectors, "vecs", "mmap length is greater than file size"),
    "empty keys file": (_empty_keys, "keys", "unreadable keys file"),
    "corrupt keys file": (_corrupt_keys, "keys", "unreadable keys file"),
    "object keys": (_object_keys, "keys", "unreadable keys file"),
    "missing vectors": (_missing_vectors, "vecs", "vectors file is missing"),
    "short vectors": (_short_vectors, "vecs", "expected float32 (8, 4)"),
    "changed vectors": (_changed_vectors, "vecs", "checksum mismatch"),
    "NaN, no checksum": (_nan_without_checksum, "vecs", "non-finite vector (NaN or inf) at row 2"),
    "inf, checksum matches": (_inf_with_new_checksum, "vecs", "non-finite vector"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_shard_is_named_set_aside_and_recomputed(tmp_path, monkeypatch, caplog, damage):
    monkeypatch.setattr("pictext.store.embed.CHUNK", 8)
    items = make_items(24)
    run(items, tmp_path / "c")  # three image shards of 8
    folder = tmp_path / "c" / IMAGE_SHARDS
    hurt, which, problem = DAMAGE[damage]
    hurt(folder / "000001")

    image, report = CountingImageEncoder(), EmbedReport()
    feats = run(items, tmp_path / "c", image, report)

    bad_file = folder / f"000001.{which}.npy"
    assert len(report.set_aside) == 1
    assert str(bad_file) in report.set_aside[0]
    assert problem in report.set_aside[0]
    assert str(bad_file) in caplog.text  # the warning line the user sees
    assert "\n" not in report.set_aside[0]
    moved = sorted(p.name.rsplit(".", 1)[0] for p in (folder / "damaged").iterdir())
    kept = {"000001.keys.npy", "000001.vecs.npy", "000001.vecs.crc32"}
    if damage == "missing vectors":
        kept -= {"000001.vecs.npy"}
    if damage == "NaN, no checksum":
        kept -= {"000001.vecs.crc32"}
    assert moved == sorted(kept)  # set aside, not deleted, with its checksum
    assert not (folder / "000001.keys.npy").exists()
    assert image.seen == 8  # only the damaged shard's items were embedded again
    assert report.failures == []
    reference = run(items, tmp_path / "fresh")
    np.testing.assert_array_equal(feats.image, reference.image)
    np.testing.assert_array_equal(feats.image_mask, reference.image_mask)

    caplog.clear()
    again = CountingImageEncoder()
    run(items, tmp_path / "c", again)
    assert again.seen == 0  # the recomputed vectors are cached; nothing damaged is left
    assert "damaged" not in caplog.text


def test_read_only_cache_is_refused_before_any_work(tmp_path, monkeypatch):
    # What a folder that takes no new files answers (the real one: tests/store/test_cli_cache).
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("pictext.store.cache.tempfile.mkstemp", refuse)
    image, text = CountingImageEncoder(), CountingTextEncoder()
    with pytest.raises(StateError) as info:
        embed_dataset(
            Dataset("toy", make_items(5)), image, text, cache_dir=tmp_path, progress=False
        )
    line = one_line(info.value)
    assert "\n" not in line
    assert str(tmp_path / IMAGE_SHARDS) in line
    assert "not writable (Permission denied)" in line
    assert (image.seen, text.seen) == (0, [])  # refused before the work
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.name != ".lock"]


def test_read_only_cache_still_serves_what_it_holds(tmp_path, monkeypatch):
    # A shared cache mounted read-only: vectors it has are answered, new ones are refused.
    items = make_items(5)
    embed_dataset(
        Dataset("toy", items),
        CountingImageEncoder(),
        CountingTextEncoder(),
        cache_dir=tmp_path,
        progress=False,
    )

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("pictext.store.cache.tempfile.mkstemp", refuse)
    image, text = CountingImageEncoder(), CountingTextEncoder()
    feats = embed_dataset(Dataset("toy", items), image, text, cache_dir=tmp_path, progress=False)
    assert (image.seen, text.seen) == (0, [])
    assert len(feats.ids) == 5
    with pytest.raises(StateError, match="is not writable"):
        embed_dataset(
            Dataset("toy", make_items(7)), image, text, cache_dir=tmp_path, progress=False
        )
    assert (image.seen, text.seen) == (0, [])  # refused before the work


def _enospc_on_call(monkeypatch, n: int) -> None:
    """os.fsync fails with ENOSPC from its n-th call on: the disk fills during a write."""
    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) >= n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_full_disk_is_one_line_and_leaves_no_half_written_shard(tmp_path, monkeypatch):
    monkeypatch.setattr("pictext.store.embed.CHUNK", 8)
    items = make_items(24)
    with monkeypatch.context() as patch:
        # Shard 0 is written (3 files); the disk fills while shard 1's keys are written.
        _enospc_on_call(patch, 5)
        with pytest.raises(StateError) as info:
            run(items, tmp_path)
    line = one_line(info.value)
    assert "\n" not in line
    assert f"cache folder {tmp_path / IMAGE_SHARDS} is full (No space left on device)" in line
    folder = tmp_path / IMAGE_SHARDS
    assert sorted(p.name for p in folder.iterdir()) == [
        ".lock",
        "000000.keys.npy",
        "000000.vecs.crc32",
        "000000.vecs.npy",
    ]  # shard 1's vectors went with its failed keys; no temporary files
    image = CountingImageEncoder()
    feats = run(items, tmp_path, image)  # space again: the run resumes after shard 0
    assert image.seen == 16
    np.testing.assert_array_equal(feats.image, run(items, tmp_path / "fresh").image)


def test_too_little_free_space_is_refused_before_the_work(tmp_path, monkeypatch):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("pictext.store.cache.shutil.disk_usage", lambda p: usage(1, 1, 100))
    image = CountingImageEncoder()
    with pytest.raises(StateError, match=r"is full: 5 vectors need .* free; nothing was"):
        run(make_items(5), tmp_path, image)
    assert image.seen == 0
    assert not list(tmp_path.rglob("*.npy"))


def test_stale_files_of_killed_runs_are_removed_at_open(tmp_path):
    cache = VectorCache(tmp_path, dim=2)
    cache.put(np.array([b"a" * 20], KEY_DTYPE), np.ones((1, 2), np.float32))
    (tmp_path / ".000001.vecs.npy.x1y2.tmp").write_bytes(b"partial")  # killed mid-write
    (tmp_path / ".probe.abc.tmp").write_bytes(b"")
    np.save(tmp_path / "000002.vecs.npy", np.ones((1, 2), np.float32))  # killed before keys
    (tmp_path / "000002.vecs.crc32").write_text("0badc0de\n")
    reopened = VectorCache(tmp_path, dim=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".lock",
        "000000.keys.npy",
        "000000.vecs.crc32",
        "000000.vecs.npy",
    ]
    assert reopened.get(np.array([b"a" * 20], KEY_DTYPE))[1].all()


def test_out_of_memory_on_one_item_is_reported_not_cached_and_retried(tmp_path, monkeypatch):
    from pictext.data import images

    items = make_items(4)
    real = images.load_image

    def tight(item, **kwargs):
        if item.id == "i2":
            raise MemoryError
        return real(item, **kwargs)

    report = EmbedReport()
    with monkeypatch.context() as patch:
        patch.setattr(images, "load_image", tight)
        feats = run(items, tmp_path, report=report)
    assert [f.item_id for f in report.failures] == ["i2"]
    assert "out of memory" in report.failures[0].problem
    assert "not cached" in report.failures[0].problem
    assert feats.image_mask.tolist() == [True, True, False, True]
    image, again = CountingImageEncoder(), EmbedReport()
    feats = run(items, tmp_path, image, again)  # memory again: the item is tried again
    assert image.seen == 1
    assert again.failures == []
    assert feats.image_mask.all()
