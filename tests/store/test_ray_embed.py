"""``embed --ray`` on a small local Ray (``ray.init(num_cpus=2)``): the same vectors as the
in-process run, keyed the same way, a rerun that computes nothing, a killed encoder actor,
WebVision's layout end to end. Skipped, loudly, only when Ray cannot be imported."""

from __future__ import annotations

import os
import re
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
from pictext.data.item import Item
from pictext.store import EmbedReport, embed_dataset
from pictext.store.cache import VectorCache
from pictext.store.compact import read_manifest

try:
    import ray
    import ray.data
except ImportError as err:  # pragma: no cover - CI installs the ray extra
    warnings.warn(
        f"Ray is not installed: the Ray embedding tests are SKIPPED ({err})", stacklevel=1
    )
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
    items = make_items(40)
    items[2] = Item(id="gone", image=str(tmp_path / "missing.png"), title="a lost image")
    ds = Dataset("toy", items)
    report = EmbedReport()
    run = embed_dataset_ray(
        ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "ray", shard_rows=8,
        batch_size=4, progress=False, report=report,
    )  # fmt: skip
    assert (run.shards, len(run.written), report.images_computed) == (5, 5, 39)
    assert [f.item_id for f in report.failures] == ["gone"]
    assert (report.embedded, report.failed) == (39, 1)
    # The in-process run over the Ray cache finds every vector: keyed exactly as in-process.
    again = EmbedReport()
    feats = embed_dataset(ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "ray",
                          progress=False, report=again)  # fmt: skip
    assert (again.images_computed, again.texts_computed) == (0, 0)
    fresh = embed_dataset(ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "local",
                          progress=False, batch_size=4)  # fmt: skip
    assert np.array_equal(feats.image_mask, fresh.image_mask)
    assert feats.image_mask.sum() == 39
    assert np.abs(feats.image - fresh.image).max() == 0
    for name in fresh.text:
        assert np.array_equal(feats.text[name], fresh.text[name])
    manifest = read_manifest(tmp_path / "ray" / "embeddings" / "toy-image@1")
    assert manifest is not None
    assert manifest["rows"] == 39
    assert sorted(s["name"] for s in manifest["shards"]) == sorted(run.written)
    # A rerun on Ray computes nothing and writes no shard.
    rerun = EmbedReport()
    run = embed_dataset_ray(ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "ray",
                            shard_rows=8, progress=False, report=rerun)  # fmt: skip
    assert (rerun.images_computed, rerun.images_cached, rerun.texts_computed) == (0, 39, 0)
    assert run.written == []


class SlowImageEncoder(ToyImageEncoder):
    """The toy encoder, slowed so a run lasts long enough to kill an actor in it; every batch
    it encodes is logged (one line per image) to count the work done, lost work included."""

    def __init__(self, log: Path) -> None:
        self.log = str(log)

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        time.sleep(0.25)
        with open(self.log, "a") as fh:
            fh.write("x\n" * len(batch))
        return super().encode_batch(batch)


def _kill_one_encoder_actor(shards: Path, stop: threading.Event, killed: list[int]) -> None:
    """Once a first shard is written, kill -9 an encoder actor (it is inside its next one)."""
    import psutil

    while not stop.is_set() and not list(shards.glob("*.keys.npy")):
        time.sleep(0.05)
    time.sleep(0.3)
    for proc in psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if line.startswith("ray::") and "ShardEncoder" in line and not stop.is_set():
            proc.kill()
            killed.append(proc.info["pid"])
            return


def test_a_killed_actor_loses_at_most_its_shard(local_ray, tmp_path):
    ds, rows = _dataset(128), 16
    log = tmp_path / "encoded.log"
    shards = tmp_path / "embeddings" / "toy-image@1"
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_one_encoder_actor, args=(shards, stop, killed))
    killer.start()
    report = EmbedReport()
    try:
        embed_dataset_ray(ds, SlowImageEncoder(log), None, cache_dir=tmp_path, shard_rows=rows,
                          batch_size=4, progress=False, report=report)  # fmt: skip
    finally:
        stop.set()
        killer.join()
    assert killed, "no encoder actor was killed while shards were being written"
    cache = VectorCache(shards, ToyImageEncoder.dim)
    # The run completed; every item is stored once; the work done again is at most the
    # killed actor's shard.
    assert len(cache) == 128
    assert len(np.unique(cache.sorted_keys)) == 128
    encoded = len(log.read_text().splitlines())
    assert 128 <= encoded <= 128 + rows
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
    assert report.items == len(ds)
    assert report.images_computed > 0
    assert report.embedded + report.failed + report.no_input == len(ds)
    feats = embed_dataset(ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=tmp_path / "c",
                          progress=False)  # fmt: skip
    assert feats.image_mask.sum() == report.embedded
    assert np.isfinite(feats.text["title"]).all()


@pytest.mark.slow
def test_cli_embed_ray_on_a_webvision_tree(tmp_path):
    """`pictext embed TREE --ray` as a user runs it (its own local Ray), then the store CLI."""
    import subprocess

    from webvision_tree import TreeSpec, make_tree

    make_tree(tmp_path / "wv", TreeSpec(items=80, val_per_class=0))
    path = [p for p in sys.path if p and Path(p).is_dir()]
    env = {
        **os.environ,
        "PICTEXT_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join(path),
    }
    toy_cli = Path(__file__).parents[1] / "support" / "toy_cli.py"
    args = ["embed", str(tmp_path / "wv"), "--ray", "--num-cpus", "2", "--image-encoder",
            "toy-image", "--text-encoder", "toy-text", "--no-progress"]  # fmt: skip
    first = subprocess.run([sys.executable, str(toy_cli), *args], capture_output=True, text=True,
                           env=env, timeout=300)  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    assert "2 encoder actors" in first.stdout
    assert "images cached / computed" in first.stdout
    info = subprocess.run([sys.executable, "-m", "pictext.cli", "store", "info"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert "store toy-image@1" in info.stdout
    assert re.search(r"shards not in the manifest(\s*│\s*|: )0\b", info.stdout)
    assert re.search(r"manifest(\s*│\s*|: )\d+ shards listed", info.stdout)


class FullDiskImageEncoder(ToyImageEncoder):
    """Stands for a worker that meets a refusal (here: raised by the encoder itself)."""

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        from pictext.core.errors import StateError

        raise StateError("cache folder /shared is full (No space left on device)")


def test_a_workers_refusal_reaches_the_caller_as_itself(local_ray, tmp_path):
    from pictext.core.errors import StateError, one_line

    with pytest.raises(StateError) as info:
        embed_dataset_ray(_dataset(4), FullDiskImageEncoder(), None, cache_dir=tmp_path,
                          shard_rows=4, progress=False)  # fmt: skip
    assert one_line(info.value) == "cache folder /shared is full (No space left on device)"
