"""Composite encoders (``a+b``): parts cached on their own, vectors joined, versions checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from service_toys import ToyImageEncoder, ToyTextEncoder
from store_fakes import CountingImageEncoder, CountingTextEncoder, make_items

from pictext.core.artifacts import EncoderMismatchError
from pictext.core.errors import UsageError
from pictext.core.vectors import unit_rows
from pictext.encoders.registry import EncoderVersionError, UnknownEncoderError
from pictext.store import EmbedReport, EncoderPool, embed_items, encoder_for
from pictext.store.composite import CompositeEncoder, check_spec, join, part_specs

IMAGE = "fake-image+toy-image"
TEXT = "fake-text+toy-text"
SUPPORT = Path(__file__).resolve().parents[1] / "support"
SRC = Path(__file__).resolve().parents[2] / "src"


def factory(versions: dict[str, str] | None = None):
    """Builds the fakes by name; ``versions`` overrides a part's version."""
    kinds = {
        "fake-image": CountingImageEncoder,
        "toy-image": ToyImageEncoder,
        "fake-text": CountingTextEncoder,
        "toy-text": ToyTextEncoder,
    }

    def build(name: str, **options):
        enc = kinds[name]()
        enc.version = (versions or {}).get(name, enc.version)
        return enc

    return build


def embed(items, image, text, cache, pool=None):
    return embed_items(items, image, text, encoders=pool or EncoderPool(factory()), cache_dir=cache)


def test_composite_is_the_concatenation_of_the_normalised_parts(tmp_path):
    items = make_items(12)
    a = embed(items, "fake-image", "fake-text", tmp_path)[0]
    b = embed(items, "toy-image", "toy-text", tmp_path)[0]
    both = embed(items, IMAGE, TEXT, tmp_path)[0]
    expected = np.concatenate([unit_rows(a.image), unit_rows(b.image)], axis=1)
    np.testing.assert_allclose(both.image, expected, rtol=1e-6)
    assert both.image.shape == (12, 4 + 12)
    np.testing.assert_allclose(np.linalg.norm(both.image, axis=1), np.sqrt(2), rtol=1e-5)
    for name in ("title", "description", "tags", "text"):
        want = np.concatenate([unit_rows(a.text[name]), unit_rows(b.text[name])], axis=1)
        np.testing.assert_allclose(both.text[name], want, rtol=1e-6)
        assert both.text_mask[name].tolist() == a.text_mask[name].tolist()
    assert not both.text_mask["description"].all()  # empty descriptions stay missing
    assert both.image_encoder == "fake-image+toy-image@1+1"
    assert both.text_encoder == "fake-text+toy-text@1+1"


def test_parts_are_cached_under_their_own_encoders_and_reused(tmp_path):
    items = make_items(10)
    embed(items, "fake-image", None, tmp_path)  # one part cached alone first
    pool, report = EncoderPool(factory()), EmbedReport()
    embed_items(items, IMAGE, None, encoders=pool, cache_dir=tmp_path, report=report)
    assert pool("fake-image").seen == 0  # read from its own cache, not recomputed
    assert (report.images_cached, report.images_computed) == (10, 10)
    folders = sorted(p.name for p in (tmp_path / "embeddings").iterdir())
    assert folders == ["fake-image@1", "toy-image@1"]  # no folder for the composite
    again = EmbedReport()
    embed_items(
        items, IMAGE, None, encoders=EncoderPool(factory()), cache_dir=tmp_path, report=again
    )
    assert (again.images_cached, again.images_computed) == (20, 0)


def test_a_row_missing_in_one_part_is_missing_in_the_composite():
    v1, v2 = np.ones((3, 2), np.float32), np.full((3, 3), 2.0, np.float32)
    vecs, mask = join([(v1, np.array([True, True, False])), (v2, np.array([True, False, True]))])
    assert mask.tolist() == [True, False, False]
    assert (vecs[1:] == 0).all()
    np.testing.assert_allclose(vecs[0], [*([1 / np.sqrt(2)] * 2), *([1 / np.sqrt(3)] * 3)])


def test_version_is_the_parts_versions_and_changes_with_a_part():
    old = encoder_for(IMAGE, EncoderPool(factory()))
    new = encoder_for(IMAGE, EncoderPool(factory({"toy-image": "2"})))
    assert (old.version, new.version) == ("1+1", "1+2")
    assert new.dim == 4 + 12
    assert new.image_size == 32
    with pytest.raises(EncoderVersionError, match="toy-image@1"):
        encoder_for(f"{IMAGE}@1+1", EncoderPool(factory({"toy-image": "2"})))
    assert encoder_for(f"{IMAGE}@1+2", EncoderPool(factory({"toy-image": "2"}))).version == "1+2"


def test_a_model_trained_on_the_composite_refuses_single_encoder_features(tmp_path):
    from pictext.classify.fusion import FusionClassifier

    items = make_items(24)
    y = np.array([0 if it.label == "a" else 1 for it in items])
    both = embed(items, IMAGE, TEXT, tmp_path)[0]
    clf = FusionClassifier(inputs=("image", "title"), epochs=2, seed=0)
    clf.fit(both, y, classes=["a", "b"])
    loaded = FusionClassifier.load(clf.save(tmp_path / "model"))
    assert loaded.predict_proba(both).shape == (24, 2)
    single = embed(items, "toy-image", TEXT, tmp_path)[0]
    with pytest.raises(EncoderMismatchError, match="fake-image\\+toy-image@1\\+1"):
        loaded.predict_proba(single)
    other = embed(items, IMAGE, TEXT, tmp_path, EncoderPool(factory({"fake-image": "9"})))[0]
    with pytest.raises(EncoderMismatchError):
        loaded.predict_proba(other)  # the same parts at another version


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        ("efficientnet-lite0+", UsageError, "empty part"),
        ("+use", UsageError, "empty part"),
        ("use+use", UsageError, "twice"),
        ("efficientnet-lite0+nosuch", UnknownEncoderError, "nosuch"),
        ("efficientnet-lite0+use", UsageError, "mixes image and text"),
        ("use+minilm@1", UsageError, "1 versions for 2 parts"),
    ],
)
def test_bad_specs_are_refused_in_one_line(spec, error, words):
    with pytest.raises(error, match=words) as info:
        check_spec(spec)
    assert "\n" not in str(info.value)


def test_good_specs_give_their_kind_and_parts():
    assert check_spec("efficientnet-lite0+efficientnet-lite2") == "image"
    assert check_spec("use+minilm") == "text"
    assert part_specs("use+minilm@a-1+b-2") == ["use@a-1", "minilm@b-2"]


def test_mixed_kinds_are_refused_when_built():
    with pytest.raises(UsageError, match="mixes image and text"):
        CompositeEncoder([CountingImageEncoder(), CountingTextEncoder()])
    with pytest.raises(UsageError, match="mixes image and text"):
        encoder_for("fake-image+fake-text", EncoderPool(factory()))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["evaluate", "tuxpaint", "--out", "OUT", "--image-encoders", "efficientnet-lite0+"], "+"),
        (["train", "tuxpaint", "--out", "OUT", "--text-encoder", "use+efficientnet-lite0"], "mix"),
        (["embed", "tuxpaint", "--image-encoder", "efficientnet-lite0+nosuch"], "nosuch"),
    ],
)
def test_the_cli_refuses_a_bad_composite_before_any_work(tmp_path, args, words):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    env = {"PYTHONPATH": f"{SRC}:{SUPPORT}", "PICTEXT_CACHE": str(tmp_path / "cache")}
    res = subprocess.run(
        [sys.executable, "-m", "pictext.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    assert words in lines[0]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


def test_a_pool_builds_each_part_once_for_the_composite_and_alone():
    pool = EncoderPool(factory())
    both = pool(IMAGE)
    assert pool(IMAGE) is both
    assert both.parts[0] is pool("fake-image")
    assert both.parts[1] is pool("toy-image")
    assert pool.specs == sorted([IMAGE, "fake-image", "toy-image"])


def test_embed_on_ray_refuses_a_composite_before_starting_ray(tmp_path):
    pytest.importorskip("ray")
    from pictext.data.dataset import Dataset
    from pictext.store.ray_embed import embed_dataset_ray

    with pytest.raises(UsageError, match="one encoder per kind"):
        embed_dataset_ray(Dataset("toy", make_items(2)), IMAGE, None, cache_dir=tmp_path)
    assert not (tmp_path / "embeddings").exists()
