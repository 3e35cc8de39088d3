"""The store at scale: float16 shards, memory-mapped block reads, compaction of small shards,
the manifest, ``pictext store info|compact``, and ``embed --ray`` without Ray installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from pictext.cli import main
from pictext.store.cache import KEY_DTYPE, VectorCache
from pictext.store.compact import compact, read_manifest, store_info


def keys(*names: str) -> np.ndarray:
    return np.array([n.encode().ljust(20, b"_") for n in names], KEY_DTYPE)


def _fill(cache: VectorCache, shards: int, rows: int, seed: int = 0) -> dict[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    made = {}
    for s in range(shards):
        k = keys(*[f"s{s}r{r}" for r in range(rows)])
        v = rng.normal(size=(rows, cache.dim)).astype(np.float32)
        cache.put(k, v)
        made.update(zip(k.tolist(), v, strict=True))
    return made


def test_float16_shards_take_half_the_bytes_and_read_back_as_float32(tmp_path):
    half, full = VectorCache(tmp_path / "h", 64, "float16"), VectorCache(tmp_path / "f", 64)
    made = _fill(half, 2, 50)
    _fill(full, 2, 50)
    got, found = half.get(np.array(list(made), KEY_DTYPE))
    assert found.all()
    assert got.dtype == np.float32
    want = np.stack(list(made.values()))
    assert np.abs(got - want).max() < 2e-3 * np.abs(want).max()
    assert not np.array_equal(got, want)  # really stored in half precision
    size = {c: sum(p.stat().st_size for p in c.root.glob("*.vecs.npy")) for c in (half, full)}
    assert size[half] * 2 - size[full] < 1024  # half, up to the .npy headers
    assert {s.vecs.dtype.name for s in VectorCache(half.root, 64).shards} == {"float16"}


def test_float16_refuses_vectors_beyond_its_range(tmp_path):
    cache = VectorCache(tmp_path, 2, "float16")
    with pytest.raises(ValueError, match="range of float16"):
        cache.put(keys("a"), np.array([[1e6, 0]], np.float32))
    assert len(VectorCache(tmp_path, 2)) == 0


def test_lookups_between_writes_see_every_shard(tmp_path):
    cache = VectorCache(tmp_path, 2)
    for i in range(40):  # many small shards, looked up after each: the recent index
        cache.put(keys(f"k{i}"), np.full((1, 2), i, np.float32))
        assert cache.contains(keys(f"k{i}", f"k{i // 2}", "none")).tolist() == [True, True, False]
        assert len(cache) == i + 1
    vecs, found = cache.get(keys(*(f"k{i}" for i in range(40))))
    assert found.all()
    assert vecs[:, 0].tolist() == list(range(40))
    assert np.array_equal(cache.sorted_keys, VectorCache(tmp_path, 2).sorted_keys)


def test_iter_rows_streams_every_row_in_blocks(tmp_path):
    cache = VectorCache(tmp_path, 8)
    made = _fill(cache, 3, 10)
    blocks = list(cache.iter_rows(rows=4))
    assert max(len(k) for k, _ in blocks) == 4
    got = {k: v for ks, vs in blocks for k, v in zip(ks.tolist(), vs, strict=True)}
    assert got.keys() == made.keys()
    assert all(np.array_equal(got[k], made[k]) for k in made)


def test_compaction_merges_small_shards_keeps_every_vector_and_converts(tmp_path):
    cache = VectorCache(tmp_path, 4)
    made = _fill(cache, 10, 3)
    cache.put(keys("s0r0"), made[keys("s0r0")[0].tobytes()][None])  # a key stored twice
    report = compact(cache, target_rows=8)
    assert report.shards_before == 11
    assert report.shards_after == 4  # 8 + 3 ... shards of at least 8 rows, the rest merged
    assert report.rows == 30
    reopened = VectorCache(tmp_path, 4)
    got, found = reopened.get(np.array(list(made), KEY_DTYPE))
    assert found.all()
    assert np.array_equal(got, np.stack(list(made.values())))
    manifest = read_manifest(tmp_path)
    assert manifest is not None
    assert manifest["rows"] == len(reopened)
    assert compact(reopened, target_rows=None, dtype="float16").shards_after == 1
    half = VectorCache(tmp_path, 4)
    assert [s.vecs.dtype.name for s in half.shards] == ["float16"]
    assert len(half) == 30
    info = store_info(half, small_rows=8)
    assert (info["shards"], info["rows"], info["rows by dtype"]) == (1, 30, {"float16": 30})
    assert info["shards not in the manifest"] == 0


def test_store_cli_info_and_compact(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PICTEXT_CACHE", str(tmp_path))
    cache = VectorCache(tmp_path / "embeddings" / "fake@1", 4)
    _fill(cache, 5, 2)
    assert main(["store", "compact", "--rows", "4", "--dtype", "float16"]) == 0
    assert "fake@1: 5 -> 3 shards" in capsys.readouterr().out
    assert main(["store", "info"]) == 0
    out = capsys.readouterr().out
    assert "store fake@1" in out
    assert "float16" in out
    assert main(["store", "info", "--encoder", "nothing"]) == 1
    assert "no vectors of encoder nothing" in capsys.readouterr().err
    assert main(["store", "compact", "--dtype", "int8"]) == 2


def test_embed_ray_without_ray_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["embed", str(tmp_path), "--ray"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "pip install 'pictext[ray]'" in err[0]


def test_import_pictext_does_not_import_ray():
    import subprocess

    code = "import sys, pictext, pictext.store, pictext.cli; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_parts_in_flight_are_kept_and_stale_ones_removed(tmp_path):
    import os

    from pictext.core.defaults import STALE_TMP_SECONDS

    VectorCache(tmp_path, 2).put(keys("a"), np.ones((1, 2), np.float32))
    fresh, stale = tmp_path / ".aaaa.npy.part", tmp_path / ".bbbb.npy.part"
    fresh.write_bytes(b"another writer's shard, being written")
    stale.write_bytes(b"a killed writer's")
    old = stale.stat().st_mtime - STALE_TMP_SECONDS - 10
    os.utime(stale, (old, old))
    cache = VectorCache(tmp_path, 2)
    assert fresh.exists()
    assert not stale.exists()
    assert len(cache) == 1  # parts are never taken for shards


def test_embed_writes_float16_shards_when_asked(tmp_path):
    from store_fakes import CountingImageEncoder, make_items

    from pictext.data.dataset import Dataset
    from pictext.store import embed_dataset

    ds = Dataset("toy", make_items(6))
    half = embed_dataset(ds, CountingImageEncoder(), None, cache_dir=tmp_path / "h",
                         progress=False, store_dtype="float16")  # fmt: skip
    full = embed_dataset(ds, CountingImageEncoder(), None, cache_dir=tmp_path / "f",
                         progress=False)  # fmt: skip
    shards = VectorCache(tmp_path / "h" / "embeddings" / "fake-image@1", 4).shards
    assert {s.vecs.dtype.name for s in shards} == {"float16"}
    np.testing.assert_allclose(half.image, full.image, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    "args",
    [["--address", "ray://x:10001"], ["--num-cpus", "2"], ["--store-dtype", "int8"]],
)
def test_embed_options_that_need_another_are_usage_errors(tmp_path, capsys, args):
    assert main(["embed", str(tmp_path), *args]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
