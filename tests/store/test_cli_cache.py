"""`pictext embed` on a damaged or read-only cache, run as a user would: a subprocess, the
real default encoders (defaults.IMAGE_ENCODER + use), a tiny generated image folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fsdenial import read_only_prefix
from PIL import Image

from pictext.core import defaults
from pictext.data.folder import read_folder
from pictext.data.images import image_cache_key
from pictext.store.cache import KEY_DTYPE

pytestmark = pytest.mark.slow


def pictext(*args: str, cache: Path, prefix: list[str] | None = None):
    env = {**os.environ, "PICTEXT_CACHE": str(cache), "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "pictext.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pets")
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        for i in range(3):
            (root / label).mkdir(exist_ok=True)
            pixels = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
            (root / label / f"{i}.json").write_text(json.dumps({"title": f"a {label} {i}"}))
    return root


@pytest.fixture(scope="module")
def warm(folder, tmp_path_factory) -> Path:
    """A cache after one clean run: the ONNX export and every vector of ``folder``."""
    cache = tmp_path_factory.mktemp("warm")
    res = pictext("embed", str(folder), "--no-progress", cache=cache)
    assert res.returncode == 0, res.stderr
    return cache


def _row(stdout: str, label: str) -> str:
    """A cell of the summary, by its row label: a terminal table's row, or the
    ``- label: value`` line written when the output is not a terminal."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) == 2 and cells[0] == label:
            return cells[1]
        name, sep, value = line.strip().lstrip("- ").partition(": ")
        if sep and name.strip() == label:
            return value.strip()
    raise AssertionError(f"no row {label!r} in:\n{stdout}")


def _image_shards(cache: Path) -> Path:
    (found,) = (cache / "embeddings").glob(f"{defaults.IMAGE_ENCODER}@*")
    return found


def _vectors(cache: Path, folder: Path) -> np.ndarray:
    from pictext.store.cache import VectorCache

    keys = np.array([image_cache_key(it) for it in read_folder(folder)], KEY_DTYPE)
    vecs, found = VectorCache(_image_shards(cache), dim=1280).get(keys)
    assert found.all()
    return vecs


def _damage_vectors(shards: Path) -> tuple[Path, str]:
    path = shards / "000000.vecs.npy"
    path.write_bytes(path.read_bytes()[:-4096])
    return path, "mmap length is greater than file size"


def _empty_keys(shards: Path) -> tuple[Path, str]:  # what printed only "Aborted." before
    path = shards / "000000.keys.npy"
    path.write_bytes(b"")
    return path, "unreadable keys file"


def _changed_vectors(shards: Path) -> tuple[Path, str]:  # random bytes inside, same size
    path = shards / "000000.vecs.npy"
    data = bytearray(path.read_bytes())
    data[-4096:] = np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path, "checksum mismatch"


@pytest.mark.parametrize(
    "damage",
    [_damage_vectors, _empty_keys, _changed_vectors],
    ids=["vectors", "keys", "changed-bytes"],
)
def test_a_damaged_shard_is_named_set_aside_and_recomputed(folder, warm, tmp_path, damage):
    cache = tmp_path / "cache"
    shutil.copytree(warm, cache)
    bad, problem = damage(_image_shards(cache))
    res = pictext("embed", str(folder), "--no-progress", cache=cache)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    (line,) = [x for x in res.stderr.splitlines() if x.strip()]
    assert line.startswith(f"warning: damaged cache shard {bad}: ")
    assert problem in line
    assert _row(res.stdout, "images cached / computed") == "0 / 6"
    assert _row(res.stdout, "damaged cache shards set aside") == "1"
    assert _row(res.stdout, "with vectors") == "6"
    assert sorted(p.name.rsplit(".", 1)[0] for p in (bad.parent / "damaged").iterdir()) == [
        "000000.keys.npy",
        "000000.vecs.crc32",
        "000000.vecs.npy",
    ]
    np.testing.assert_array_equal(_vectors(cache, folder), _vectors(warm, folder))
    again = pictext("embed", str(folder), "--no-progress", cache=cache)
    assert again.stderr == ""
    assert _row(again.stdout, "images cached / computed") == "6 / 0"


def test_a_read_only_cache_is_one_line_before_any_work(folder, warm, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(warm, cache)
    for shard in (cache / "embeddings").rglob("*.npy"):
        shard.unlink()  # the folders are there, the vectors are not: work would be needed
    prefix = read_only_prefix(cache)
    if prefix is None:
        pytest.skip("running as root without a way to mount the cache read-only")
    res = pictext("embed", str(folder), "--no-progress", cache=cache, prefix=prefix)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    (line,) = res.stderr.splitlines()
    assert line.startswith(f"error: cache folder {_image_shards(cache)} is not writable (")
    assert "nothing was embedded" in line
    assert "PICTEXT_CACHE" in line  # the hint: where to point the cache instead
    assert res.stdout == ""  # no summary: nothing was done
    assert not list((cache / "embeddings").rglob("*.npy"))
