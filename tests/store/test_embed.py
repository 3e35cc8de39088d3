from __future__ import annotations

import numpy as np
import pytest
from store_fakes import CountingImageEncoder, CountingTextEncoder, make_items

from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.store import (
    EmbedReport,
    EncoderPool,
    Failure,
    MemoryCache,
    UnreadableItemsError,
    embed_dataset,
    embed_items,
    require_read,
)


def run(items, tmp_path, image=None, text=None, report=None):
    return embed_dataset(
        Dataset("toy", items),
        image or CountingImageEncoder(),
        text or CountingTextEncoder(),
        cache_dir=tmp_path,
        progress=False,
        report=report,
    )


def test_second_run_does_no_encoder_work_and_gives_same_arrays(tmp_path):
    items = make_items(20)
    first = run(items, tmp_path)
    image, text = CountingImageEncoder(), CountingTextEncoder()
    second = run(items, tmp_path, image, text)
    assert image.seen == 0
    assert text.seen == []
    np.testing.assert_array_equal(first.image, second.image)
    for name in first.text:
        np.testing.assert_array_equal(first.text[name], second.text[name])


def test_adding_ten_items_embeds_ten(tmp_path):
    run(make_items(20), tmp_path)
    image = CountingImageEncoder()
    feats = run(make_items(20) + make_items(10, start=100), tmp_path, image)
    assert image.seen == 10
    assert feats.image_mask.all()
    assert feats.image.shape == (30, 4)


def test_missing_text_is_masked_not_encoded(tmp_path):
    text = CountingTextEncoder()
    feats = run(make_items(4), tmp_path, text=text)
    assert feats.text_mask["description"].tolist() == [True, False, True, False]
    assert (feats.text["description"][1] == 0).all()
    assert "" not in text.seen
    assert feats.text_mask["text"].all()


def test_identical_texts_are_encoded_once(tmp_path):
    text = CountingTextEncoder()
    run(make_items(6), tmp_path, text=text)
    assert text.seen.count("x, y") == 1


def test_corrupt_image_is_reported_skipped_and_not_cached(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    items = [*make_items(3), Item(id="broken", image=str(bad), title="t", label="a")]
    report = EmbedReport()
    feats = run(items, tmp_path / "cache", report=report)
    assert [f[0] for f in report.failures] == ["broken"]
    assert feats.image_mask.tolist() == [True, True, True, False]
    assert (feats.image[3] == 0).all()
    image = CountingImageEncoder()
    again = EmbedReport()
    run(items, tmp_path / "cache", image, report=again)
    assert image.seen == 0
    assert [f[0] for f in again.failures] == ["broken"]


def test_killed_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr("pictext.store.embed.CHUNK", 8)
    items = make_items(24)
    with pytest.raises(KeyboardInterrupt):
        run(items, tmp_path, CountingImageEncoder(fail_after=16))
    image = CountingImageEncoder()
    feats = run(items, tmp_path, image)
    assert image.seen == 8
    reference = run(items, tmp_path / "fresh", CountingImageEncoder())
    np.testing.assert_allclose(feats.image, reference.image, rtol=1e-6)


# ---- the one path for new inputs ---------------------------------------------------------------
def test_embed_items_returns_what_it_could_not_read(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    items = [
        *make_items(2),
        Item("broken", str(bad), title="has text"),
        Item("gone", str(tmp_path / "missing.png"), title="t"),
        Item("text only", title="no image at all"),
    ]
    feats, failures = embed_items(
        items, CountingImageEncoder(), CountingTextEncoder(), cache_dir=tmp_path / "c"
    )
    problems = dict(failures)
    assert sorted(problems) == ["broken", "gone"]
    assert "not found" in problems["gone"]
    assert feats.image_mask.tolist() == [True, True, False, False, False]
    assert feats.text_mask["title"].all()  # their text was still read
    with pytest.raises(UnreadableItemsError, match="cannot read 2 items: gone: ") as info:
        require_read(failures)
    assert info.value.failures == failures
    assert "\n" not in str(info.value)
    require_read([])  # nothing failed: no error


def test_embed_items_matches_embed_dataset(tmp_path):
    items = make_items(7)
    feats, failures = embed_items(
        items, CountingImageEncoder(), CountingTextEncoder(), cache_dir=tmp_path / "a"
    )
    want = run(items, tmp_path / "b")
    assert failures == []
    np.testing.assert_array_equal(feats.image, want.image)
    for name in want.text:
        np.testing.assert_array_equal(feats.text[name], want.text[name])
    assert (feats.image_encoder, feats.text_encoder) == ("fake-image@1", "fake-text@1")


def test_memory_cache_embeds_once_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    memory = MemoryCache(64)
    items = make_items(4)
    image, text = CountingImageEncoder(), CountingTextEncoder()
    first, _ = embed_items(items, image, text, cache_dir=tmp_path / "disk", memory=memory)
    seen_images, seen_texts = image.seen, len(text.seen)
    again, _ = embed_items(items, image, text, cache_dir=tmp_path / "disk", memory=memory)
    assert (image.seen, len(text.seen)) == (seen_images, seen_texts)  # all from memory
    np.testing.assert_array_equal(first.image, again.image)
    assert not list(tmp_path.rglob("*.npy"))
    assert not (tmp_path / "disk").exists()


def test_a_full_memory_cache_still_answers_every_item():
    items = make_items(5)
    feats, failures = embed_items(
        items, CountingImageEncoder(), CountingTextEncoder(), memory=MemoryCache(1)
    )
    reference, _ = embed_items(
        items, CountingImageEncoder(), CountingTextEncoder(), memory=MemoryCache(1000)
    )
    assert failures == []
    assert feats.image_mask.all()
    assert feats.text_mask["title"].all()
    np.testing.assert_array_equal(feats.image, reference.image)
    np.testing.assert_array_equal(feats.text["text"], reference.text["text"])
    nothing, _ = embed_items(items, CountingImageEncoder(), None, memory=MemoryCache(0))
    np.testing.assert_array_equal(nothing.image, reference.image)


def test_text_inputs_choose_the_fields():
    text = CountingTextEncoder()
    feats, _ = embed_items(make_items(2), None, text, memory=MemoryCache(), text_inputs=("text",))
    assert list(feats.text) == ["text"]
    assert feats.image is None
    assert sorted(text.seen) == sorted(it.text for it in make_items(2))


def test_failure_reads_as_one_line():
    assert str(Failure("a.png", "image file not found: a.png")) == (
        "a.png: image file not found: a.png"
    )


def test_encoder_pool_builds_once_and_checks_versions():
    built = []

    def factory(name, **options):
        built.append((name, options))
        return CountingTextEncoder()

    pool = EncoderPool(factory, threads=1)
    assert pool("fake-text@1") is pool("fake-text@1")
    assert built == [("fake-text", {"threads": 1})]
    assert pool.specs == ["fake-text@1"]
    from pictext.encoders.registry import EncoderVersionError

    with pytest.raises(EncoderVersionError, match="fake-text@0"):
        pool("fake-text@0")
