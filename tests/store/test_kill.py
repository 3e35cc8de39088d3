"""kill -9 in the middle of an embedding run: the next run resumes with the same vectors, and
what the killed run left half-done (temporary files) is cleaned away when the cache opens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
from store_fakes import CountingImageEncoder, CountingTextEncoder, make_items

from pictext.data.dataset import Dataset
from pictext.store import embed_dataset

SCRIPT = """
import sys, time
import pictext.store.embed as embed
from store_fakes import CountingImageEncoder, CountingTextEncoder, make_items
from pictext.data.dataset import Dataset

class Slow(CountingImageEncoder):
    def encode_batch(self, batch):
        time.sleep(0.05)
        return super().encode_batch(batch)

embed.CHUNK = 8
embed.embed_dataset(Dataset("toy", make_items(96)), Slow(), CountingTextEncoder(),
                    cache_dir=sys.argv[1], progress=False, batch_size=4)
"""


def test_kill_9_mid_run_resumes_with_the_same_vectors(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(cache)], env=env)
    shards = cache / "embeddings" / "fake-image@1"
    deadline = time.monotonic() + 60
    while len(list(shards.glob("*.keys.npy"))) < 3 and proc.poll() is None:
        assert time.monotonic() < deadline, "the run wrote no shards"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    whole = len(list(shards.glob("*.keys.npy")))
    assert 3 <= whole < 12  # killed mid-run: some shards whole, some never written

    monkeypatch.setattr("pictext.store.embed.CHUNK", 8)
    items = make_items(96)
    image = CountingImageEncoder()
    feats = embed_dataset(
        Dataset("toy", items), image, CountingTextEncoder(), cache_dir=cache, progress=False
    )
    assert image.seen == 96 - 8 * whole  # only what no whole shard held
    assert not list(shards.glob(".*.tmp"))
    reference = embed_dataset(
        Dataset("toy", items),
        CountingImageEncoder(),
        CountingTextEncoder(),
        cache_dir=tmp_path / "fresh",
        progress=False,
    )
    np.testing.assert_array_equal(feats.image, reference.image)
    np.testing.assert_array_equal(feats.text["text"], reference.text["text"])
