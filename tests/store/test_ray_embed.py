"""``embed --ray`` on a small local Ray (``ray.init(num_cpus=2)``): the same vectors as the
in-process run, keyed the same way, a rerun that computes nothing, a killed encoder actor,
WebVision's layout end to end. Skipped, loudly, only when Ray cannot be imported."""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from service_toys import ToyImageEncoder, ToyTextEncoder
from store_fakes import make_items

from pictext.data.dataset import Dataset
from pictext.store import EmbedReport, embed_dataset
from pictext.store.cache import VectorCache
from pictext.store.compact import read_manifest

try:
    import ray
    import ray.data  # noqa: F401
except ImportError as err:  # pragma: no cover - CI installs the ray extra
    warnings.warn(f"Ray is not installed: the Ray embedding tests are SKIPPED ({err})", stacklevel=1)
    pytest.skip(
        f"SKIPPED: Ray cannot be imported ({err}); pip install 'pictext[ray]' to run these",
        allow_module_level=True,
    )

from pictext.store.ray_embed import embed_dataset_ray


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray of 2 CPUs for the module; workers import what this process imports."""
    with pytest.MonkeyPatch.context() as patch:
        path = [p for p in sys.path if p and Path(p).is_dir()]
        patch.setenv("PYTHONPATH", os.pathsep.join(path))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield ray
        finally:
            ray.shutdown()


def _dataset(n: int) -> Dataset:
    return Dataset("toy", make_items(n))


def test_ray_gives_the_in_process_vectors_keyed_the_same(local_ray, tmp_path):
    ds = _dataset(40)
    report = EmbedReport()
    run = embed_dataset_ray(
        ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "ray", shard_rows=8,
        batch_size=4, progress=False, report=report,
    )  # fmt: skip
    assert (run.shards, len(run.written), report.images_computed) == (5, 5, 40)
    assert report.embedded == 40 and not report.failures
    # The in-process run over the Ray cache finds every vector: keyed exactly as in-process.
    again = EmbedReport()
    feats = embed_dataset(ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "ray",
                          progress=False, report=again)  # fmt: skip
    assert (again.images_computed, again.texts_computed) == (0, 0)
    fresh = embed_dataset(ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "local",
                          progress=False, batch_size=4)  # fmt: skip
    assert np.abs(feats.image - fresh.image).max() == 0
    for name in fresh.text:
        assert np.array_equal(feats.text[name], fresh.text[name])
    manifest = read_manifest(tmp_path / "ray" / "embeddings" / "toy-image@1")
    assert manifest is not None and manifest["rows"] == 40
    assert sorted(s["name"] for s in manifest["shards"]) == sorted(run.written)


def test_a_rerun_computes_nothing_and_a_new_item_only_itself(local_ray, tmp_path):
    ds = _dataset(24)
    embed_dataset_ray(ds, ToyImageEncoder(), None, cache_dir=tmp_path, shard_rows=8,
                      progress=False)  # fmt: skip
    report = EmbedReport()
    run = embed_dataset_ray(ds, ToyImageEncoder(), None, cache_dir=tmp_path, shard_rows=8,
                            progress=False, report=report)  # fmt: skip
    assert (report.images_computed, report.images_cached, run.written) == (0, 24, [])
    grown = Dataset("toy", [*ds.items, *make_items(1, start=100)])
    report = EmbedReport()
    embed_dataset_ray(grown, ToyImageEncoder(), None, cache_dir=tmp_path, shard_rows=8,
                      progress=False, report=report)  # fmt: skip
    assert (report.images_computed, report.images_cached) == (1, 24)


def test_unreadable_images_are_named_and_not_cached(local_ray, tmp_path):
    items = make_items(6)
    items[2] = items[2].__class__(id="gone", image=str(tmp_path / "missing.png"), title="x")
    report = EmbedReport()
    embed_dataset_ray(Dataset("toy", items), ToyImageEncoder(), None, cache_dir=tmp_path / "c",
                      shard_rows=4, progress=False, report=report)  # fmt: skip
    assert [f.item_id for f in report.failures] == ["gone"]
    assert (report.images_computed, report.embedded, report.failed) == (5, 5, 1)


class SlowImageEncoder(ToyImageEncoder):
    """The toy encoder, slowed so a run lasts long enough to kill an actor in it."""

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        time.sleep(0.15)
        return super().encode_batch(batch)


def _kill_one_encoder_actor(stop: threading.Event, killed: list[int]) -> None:
    import psutil

    while not stop.is_set() and not killed:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            line = " ".join(proc.info["cmdline"] or [])
            if "ShardEncoder" in line and line.startswith("ray::"):
                time.sleep(1.0)  # inside a shard
                proc.kill()
                killed.append(proc.info["pid"])
                return
        time.sleep(0.2)


def test_a_killed_actor_loses_at_most_its_shard(local_ray, tmp_path):
    ds = _dataset(96)
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_one_encoder_actor, args=(stop, killed), daemon=True)
    killer.start()
    report = EmbedReport()
    try:
        embed_dataset_ray(ds, SlowImageEncoder(), None, cache_dir=tmp_path, shard_rows=16,
                          batch_size=4, progress=False, report=report)  # fmt: skip
    finally:
        stop.set()
        killer.join()
    assert killed, "no encoder actor was found to kill"
    cache = VectorCache(tmp_path / "embeddings" / "toy-image@1", ToyImageEncoder.dim)
    # Every item is stored once: the lost shard was done again, nothing else twice.
    assert len(cache) == 96 and len(np.unique(cache.sorted_keys)) == 96
    rerun = EmbedReport()
    embed_dataset(ds, ToyImageEncoder(), None, cache_dir=tmp_path, progress=False, report=rerun)
    assert rerun.images_computed == 0


def test_webvision_tree_end_to_end(local_ray, tmp_path):
    from webvision_tree import TreeSpec, make_tree

    from pictext.data import load_dataset

    make_tree(tmp_path / "wv", TreeSpec(items=60, val_per_class=0))
    ds = load_dataset(str(tmp_path / "wv"))
    report = EmbedReport()
    embed_dataset_ray(ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "c",
                      shard_rows=16, progress=False, report=report)  # fmt: skip
    assert report.items == len(ds) and report.images_computed > 0
    assert report.embedded + report.failed + report.no_input == len(ds)
    feats = embed_dataset(ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "c",
                          progress=False)  # fmt: skip
    assert feats.image_mask.sum() == report.embedded
    assert np.isfinite(feats.text["title"]).all()
