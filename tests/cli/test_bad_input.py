"""Bad input through the real command line (a subprocess): never an answer without an input.

Each refusal is checked the same way: the exit status (2 for usage, 1 for a failed input),
one ``error:`` line on stderr naming the item and the problem, no traceback, and no answer
on stdout. The models are tiny (toy encoders, a few epochs) and so is the data: a folder of
coloured pictures. ``toy_cli.py`` is ``pictext`` with the toy encoders registered.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SUPPORT = Path(__file__).resolve().parents[1] / "support"
SRC = Path(__file__).resolve().parents[2] / "src"
TOY = ["--image-encoder", "toy-image", "--text-encoder", "toy-text"]


def pictext(*args: str | bytes, cache: Path | None = None, home: Path | None = None):
    """Run ``pictext ARGS`` (toy encoders registered) in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC), str(SUPPORT), *filter(None, [env.get("PYTHONPATH")])]
    )
    if cache is not None:
        env["PICTEXT_CACHE"] = str(cache)
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, str(SUPPORT / "toy_cli.py"), *args],
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        timeout=300,
    )


def refused(res, status: int, *names: str) -> str:
    """Assert a one-line refusal naming ``names``; return the line."""
    assert res.returncode == status, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    for name in names:
        assert name in lines[0]
    assert res.stdout.strip() == ""  # no answer
    return lines[0]


# ---- fixtures: a tiny collection, a tiny classifier, index and captioner ------------------------
@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, Path]:
    from service_toys import ToyImageEncoder, ToyTextEncoder, picture, write_dataset

    from pictext.caption import Captioner
    from pictext.classify.fusion import FusionClassifier
    from pictext.data import load_dataset
    from pictext.rank.index import SearchIndex
    from pictext.store import embed_dataset

    root = tmp_path_factory.mktemp("cli-bad-input")
    data = write_dataset(root / "data")
    ds = load_dataset(data)
    feats = embed_dataset(ds, ToyImageEncoder(), ToyTextEncoder(), progress=False)
    bundle = root / "bundle"
    FusionClassifier(
        epochs=3, patience=3, tune_dim=8, image_tune_dim=8, hidden=16, lr=1e-2, batch_size=8
    ).fit(feats, ds.labels(), classes=ds.classes).save(bundle / "classifier")
    SearchIndex.build(
        feats,
        labels=[it.label for it in ds.items],
        titles=[it.title for it in ds.items],
        dataset=str(data),
    ).save(bundle / "index")
    captions = [f"a {it.label} picture" for it in ds.items]
    Captioner(
        epochs=10,
        min_count=1,
        hidden=16,
        dropout=0.0,
        lr=1e-2,
        batch_size=8,
        val_fraction=0.0,
        patience=0,
    ).fit(feats.image, captions, image_encoder=feats.image_encoder).save(bundle / "captioner")
    (bundle / "bundle.json").write_text(json.dumps({"dataset": str(data)}))

    good = root / "good.png"
    picture("red", seed=99).save(good)
    (root / "folder.png").mkdir()
    raw = good.read_bytes()
    (root / "truncated.png").write_bytes(raw[: len(raw) // 3])
    Image.new("1", (20000, 20000)).save(root / "bomb.png")  # 4e8 pixels in 48 KB
    (root / "noise.png").write_bytes(os.urandom(600))
    return {
        "root": root,
        "data": data,
        "bundle": bundle,
        "model": bundle / "classifier",
        "index": bundle / "index",
        "captioner": bundle / "captioner",
        "good": good,
    }


BAD_IMAGES = {
    "missing.png": "image file not found",
    "folder.png": "is a directory",
    "truncated.png": "truncated",
    "bomb.png": "decompression bomb",
    "noise.png": "not a supported image format",
}


# ---- 1. answers for inputs that were never read -------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_tag_refuses_an_image_it_cannot_read(fx, name):
    path = str(fx["root"] / name)
    refused(pictext("tag", path, "--model", str(fx["model"])), 1, path, BAD_IMAGES[name])


@pytest.mark.slow
def test_verify_refuses_a_missing_file_instead_of_disagreeing(fx):
    path = str(fx["root"] / "missing.png")
    res = pictext("verify", path, "--label", "red", "--model", str(fx["model"]))
    line = refused(res, 1, path, "not found")
    assert "DISAGREE" not in line


@pytest.mark.slow
def test_caption_refuses_a_missing_file(fx):
    path = str(fx["root"] / "missing.png")
    refused(pictext("caption", path, "--model", str(fx["captioner"])), 1, path, "not found")


GARBAGE_TEXT = {  # binary data as a description; NUL cannot be passed on a command line
    "noise": bytes(range(1, 256)).decode("latin-1") * 2,
    "controls": "\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 20,
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", [*sorted(GARBAGE_TEXT), "undecodable bytes"])
def test_garbage_text_gets_no_calibrated_answer(fx, kind):
    """Binary data given as a description is an unreadable input, not a confident label."""
    good = str(fx["good"])
    if kind == "undecodable bytes":  # argv bytes that are not UTF-8 (surrogateescape)
        text: str | bytes = b"\xff\xfe\x80\x81 garbage \x82\x83"
    else:
        text = GARBAGE_TEXT[kind]
    res = pictext("tag", good, "--description", text, "--model", str(fx["model"]))
    refused(res, 1, good, "description")
    assert "text" in res.stderr


@pytest.mark.slow
def test_a_batch_answers_the_readable_items_and_names_the_others(fx):
    good, bad = str(fx["good"]), str(fx["root"] / "truncated.png")
    missing = str(fx["root"] / "missing.png")
    res = pictext("tag", good, bad, missing, "--model", str(fx["model"]), "--json")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["id"] for r in rows] == [good, bad, missing]  # item order kept
    assert "top" in rows[0]
    assert "top" not in rows[1]
    assert "top" not in rows[2]
    assert "truncated" in rows[1]["error"]
    assert "not found" in rows[2]["error"]
    errors = res.stderr.strip().splitlines()
    assert errors[0] == f"error: cannot read {bad}: {rows[1]['error']}"
    assert errors[1] == f"error: cannot read {missing}: {rows[2]['error']}"
    assert errors[-1] == "error: 2 of 3 items could not be read; answered the other 1"


@pytest.mark.slow
def test_a_manifest_batch_counts_skipped_and_unreadable_rows(fx, tmp_path):
    blue = fx["data"] / "blue" / "blue0.png"
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,label\n"
        f"{fx['good']},red\n"
        f"{fx['root'] / 'truncated.png'},red\n"
        f"{tmp_path / 'gone.png'},blue\n"
        f"{blue},blue\n"
    )
    res = pictext("verify", "--manifest", str(manifest), "--model", str(fx["model"]))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    answered = res.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in answered] == [str(fx["good"]), str(blue)]
    assert all("AGREE" in line for line in answered)  # AGREE or DISAGREE: a verdict
    assert "gone.png" in res.stderr
    assert "truncated.png" in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: 2 of 4 items")


@pytest.mark.slow
def test_caption_batch_captions_the_readable_images(fx):
    good, bad = str(fx["good"]), str(fx["root"] / "noise.png")
    res = pictext("caption", good, bad, "--model", str(fx["captioner"]))
    assert res.returncode == 1
    [line] = res.stdout.strip().splitlines()
    assert line.startswith(f"{good}: ")
    assert line.removeprefix(f"{good}: ").strip()  # a caption
    assert f"error: cannot read {bad}" in res.stderr


# ---- 2. query strings: a missing file or an unknown id is an error, not a text search -----------
@pytest.mark.parametrize("command", ["similar", "divergent"])
def test_a_missing_file_query_is_an_error(fx, command):
    path = str(fx["root"] / "missing.png")
    line = refused(pictext(command, path, "--index", str(fx["index"])), 1, path, "no such file")
    assert str(fx["index"]) in line  # which index was asked
    assert "text:" in line  # how to ask for a text search


def test_an_unknown_id_query_is_an_error(fx):
    refused(pictext("similar", "red/red99.png", "--index", str(fx["index"])), 1, "red/red99.png")


def test_an_unknown_forced_id_is_one_line(fx):
    refused(pictext("similar", "id:x", "--index", str(fx["index"])), 1, "'x'", "not in the index")


def test_a_folder_query_is_an_error(fx):
    folder = str(fx["root"] / "folder.png")
    refused(pictext("similar", folder, "--index", str(fx["index"])), 1, folder, "folder")


def test_an_unknown_history_id_is_an_error(fx):
    res = pictext("recommend", "--history", "nosuch", "--index", str(fx["index"]))
    refused(res, 1, "'nosuch'", str(fx["index"]))


@pytest.mark.parametrize("how", ["--text", "prefix"])
def test_a_text_query_is_searched_when_asked_for(fx, how):
    query = "red/red99.png"
    args = [query, "--text"] if how == "--text" else [f"text:{query}"]
    res = pictext("similar", *args, "--index", str(fx["index"]), "-k", "2")
    assert res.returncode == 0, res.stderr
    assert "read as text (asked for" in res.stdout


def test_results_say_which_index_answered_and_what_d_means(fx):
    res = pictext("similar", "red/red0.png", "--index", str(fx["index"]), "-k", "3")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"index: {fx['index']} (24 items, raw space, cosine)"
    assert lines[1] == "query: 'red/red0.png' read as item id of the index"
    assert lines[2].startswith("d: how far each image is from the query (raw image-embedding")
    hits = lines[4:]
    assert len(hits) == 3
    assert all("d=" in h and "a red picture number" in h for h in hits)  # the titles


@pytest.mark.parametrize(
    "args",
    [
        ["similar", "red/red0.png"],
        ["divergent", "text:a green picture"],
        ["recommend", "--history", "red/red0.png", "--history", "red/red1.png"],
    ],
)
def test_json_answers_name_the_index(fx, args):
    res = pictext(*args, "--index", str(fx["index"]), "-k", "4", "--json")
    assert res.returncode == 0, res.stderr
    answer = json.loads(res.stdout)
    assert answer["index"]["path"] == str(fx["index"])
    assert answer["index"]["items"] == 24
    assert answer["distance"].startswith("d: ")
    assert len(answer["hits"]) == 4
    assert {"id", "label", "distance", "title", "rank"} <= set(answer["hits"][0])


# ---- 3. k bounded before the work ---------------------------------------------------------------
@pytest.mark.parametrize("k", ["-1", "0", "1000000000"])
@pytest.mark.parametrize(
    "command",
    [
        ["similar", "red/red0.png", "--index", "{index}"],
        ["divergent", "red/red0.png", "--index", "{index}"],
        ["recommend", "--history", "red/red0.png", "--index", "{index}"],
        ["tag", "{good}", "--model", "{model}"],
    ],
    ids=["similar", "divergent", "recommend", "tag"],
)
def test_k_out_of_range_is_a_usage_error(fx, command, k):
    args = [a.format(index=fx["index"], good=fx["good"], model=fx["model"]) for a in command]
    refused(pictext(*args, "-k", k), 2, "-k", "between 1 and 100", k)


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--pool", "0", "pool must be at least 1"),
        ("--method", "nosuch", "unknown method 'nosuch'"),
        ("--lambda", "3", "lambda must be between 0 and 1"),
    ],
)
def test_recommend_settings_out_of_range_are_usage_errors(fx, option, value, problem):
    args = ["recommend", "--history", "red/red0.png", "--index", str(fx["index"])]
    refused(pictext(*args, option, value), 2, problem)


def test_a_pool_larger_than_the_index_is_all_of_it(fx):
    args = ["recommend", "--history", "red/red0.png", "--index", str(fx["index"]), "--json"]
    res = pictext(*args, "--pool", "1000000000", "-k", "3")
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["hits"]) == 3


# ---- 4. unknown dataset and encoder names -------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "status", "names"),
    [
        (["embed", "nosuch"], 2, ["'nosuch'", "no dataset"]),
        (["train", "nosuch", "--out", "{out}"], 2, ["'nosuch'", "no dataset"]),
        (["embed", "{data}", "--image-encoder", "nosuch"], 2, ["'nosuch'", "unknown encoder"]),
        (
            ["train", "{data}", "--out", "{out}", "--image-encoder", "nosuch"],
            2,
            ["'nosuch'", "unknown encoder"],
        ),
        (
            ["evaluate", "{data}", "--out", "{out}", "--text-encoders", "toy-text,nosuch"],
            2,
            ["'nosuch'", "unknown encoder"],
        ),
        (
            ["caption-train", "{data}", "--out", "{out}", "--image-encoder", "nosuch"],
            2,
            ["'nosuch'", "unknown encoder"],
        ),
        (
            ["index", "build", "{data}", "--out", "{out}", "--text-encoder", "nosuch"],
            2,
            ["'nosuch'", "unknown encoder"],
        ),
    ],
    ids=["embed-dataset", "train-dataset", "embed", "train", "evaluate", "caption", "index"],
)
def test_unknown_names_are_one_line(fx, tmp_path, args, status, names):
    out = tmp_path / "out"
    res = pictext(*[a.format(data=fx["data"], out=out) for a in args])
    refused(res, status, *names)
    assert not out.exists()  # refused before any work


# ---- 5. manifests that cannot be read -----------------------------------------------------------
MANIFESTS = {
    "no-path.csv": (b"title,label\na cat,animals\n", "needs a 'path' (or 'image') column"),
    "empty.csv": (b"", "empty"),
    "binary.csv": (bytes(range(256)) * 4, "not a text manifest"),
    "header-only.csv": (b"path,label\n", "manifest has no rows"),
    "no-rows.jsonl": (b'{"title": "no path here"}\n', "no usable rows"),
}


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_a_bad_manifest_is_named(fx, tmp_path, name):
    content, problem = MANIFESTS[name]
    manifest = tmp_path / name
    manifest.write_bytes(content)
    res = pictext("tag", "--manifest", str(manifest), "--model", str(fx["model"]))
    refused(res, 1, str(manifest), problem)


def test_a_missing_manifest_is_named(fx, tmp_path):
    manifest = tmp_path / "gone.csv"
    res = pictext("tag", "--manifest", str(manifest), "--model", str(fx["model"]))
    refused(res, 1, str(manifest), "no such manifest")


# ---- 6. degenerate training ---------------------------------------------------------------------
def _copy_classes(fx, dest: Path, keep: dict[str, int]) -> Path:
    """A copy of the collection with ``keep[colour]`` pictures of each colour."""
    for colour, n in keep.items():
        src = fx["data"] / colour
        files = sorted(src.rglob("*.png"))[:n]
        for f in files:
            rel = f.relative_to(fx["data"])
            (dest / rel.parent).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest / rel)
            shutil.copy(f.with_suffix(".json"), dest / rel.with_suffix(".json"))
    return dest


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_single_class_dataset_is_refused(fx, tmp_path, command):
    data = _copy_classes(fx, tmp_path / "one", {"red": 8})
    out = tmp_path / "out"
    encoders = TOY if command == "train" else ["--image-encoders", "toy-image"]
    res = pictext(command, str(data), "--out", str(out), *encoders)
    refused(res, 1, "one", "1 class", "at least 2 classes")
    assert not out.exists()


def test_an_empty_dataset_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    res = pictext("train", str(tmp_path / "empty"), "--out", str(tmp_path / "out"), *TOY)
    refused(res, 1, "empty", "no items")


@pytest.mark.slow
def test_a_class_too_small_for_the_split_is_warned_about_and_recorded(fx, tmp_path):
    data = _copy_classes(fx, tmp_path / "thin", {"red": 8, "green": 8, "blue": 1})
    out = tmp_path / "model"
    res = pictext("train", str(data), "--out", str(out), *TOY, "--epochs", "2", "--no-figures")
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "blue (1 item: train 1, val 0, test 0)" in warnings[0]
    data_check = json.loads((out / "metrics.json").read_text())["data"]
    assert data_check["too_few_for_split"] == {"blue": {"train": 1, "val": 0, "test": 0}}
    assert data_check["items_per_class"] == {"blue": 1, "green": 8, "red": 8}


# ---- 7. a bundle folder wherever a model is read ------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["tag", "{good}", "--model", "{bundle}"],
        ["verify", "{good}", "--label", "red", "--model", "{bundle}"],
        ["caption", "{good}", "--model", "{bundle}"],
        ["similar", "red/red0.png", "--index", "{bundle}"],
        ["similar", "{good}", "--by", "caption", "--model", "{bundle}", *TOY[2:]],
    ],
    ids=["tag", "verify", "caption", "similar", "similar-by-caption"],
)
def test_a_bundle_folder_is_accepted_as_the_model(fx, args):
    res = pictext(*[a.format(good=fx["good"], bundle=fx["bundle"]) for a in args])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip()


def test_a_bundle_without_the_part_names_it_and_the_command(fx, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(fx["index"], bundle / "index")
    res = pictext("tag", str(fx["good"]), "--model", str(bundle))
    refused(res, 1, str(bundle), "no classifier", "pictext train")


# ---- 8. hidden state: the current-index pointer -------------------------------------------------
def test_without_index_and_none_built_it_says_so(tmp_path):
    res = pictext("similar", "anything", cache=tmp_path / "cache", home=tmp_path / "home")
    refused(res, 1, "--index", "pictext index build")


@pytest.mark.slow
def test_index_build_points_the_cache_at_it_and_similar_names_it(fx, tmp_path):
    cache, home = tmp_path / "cache", tmp_path / "home"
    out = tmp_path / "ix"
    build = ["index", "build", str(fx["data"]), *TOY]
    res = pictext(*build, "--out", str(out), cache=cache, home=home)
    assert res.returncode == 0, res.stderr
    assert (cache / "index" / "CURRENT").read_text() == str(out.resolve())
    assert not home.exists()  # nothing written outside the cache it was given
    found = pictext("similar", "red/red0.png", "-k", "1", cache=cache, home=home)
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[0].startswith(f"index: {out.resolve()} (24 items")
    other = tmp_path / "other"
    res = pictext(*build, "--out", str(other), "--no-current", cache=cache, home=home)
    assert res.returncode == 0, res.stderr
    assert (cache / "index" / "CURRENT").read_text() == str(out.resolve())


def test_the_test_session_never_uses_the_users_cache():
    user_cache = Path.home() / ".cache" / "pictext"
    assert Path(os.environ["PICTEXT_CACHE"]).resolve() != user_cache.resolve()


# ---- a damaged store: bytes changed inside a shard are found, set aside, recomputed -------------
def _scramble_shards(cache: Path) -> list[Path]:
    """Random bytes over the vectors of every shard in ``cache``, each file's size unchanged."""
    rng = np.random.default_rng(0)
    shards = sorted((cache / "embeddings").rglob("[0-9]*.vecs.npy"))
    for path in shards:
        data = bytearray(path.read_bytes())
        data[128:] = rng.integers(0, 256, len(data) - 128, dtype="uint8").tobytes()
        path.write_bytes(bytes(data))
    return shards


@pytest.mark.slow
@pytest.mark.parametrize("command", ["tag", "embed"])
def test_a_damaged_shard_is_never_served(fx, tmp_path, command):
    cache = tmp_path / "cache"
    args = (
        ["tag", str(fx["good"]), "--model", str(fx["model"]), "--json"]
        if command == "tag"
        else ["embed", str(fx["data"]), *TOY, "--no-progress"]
    )
    first = pictext(*args, cache=cache)
    assert first.returncode == 0, first.stderr
    shards = _scramble_shards(cache)
    assert shards
    again = pictext(*args, cache=cache)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert "nan" not in again.stdout.lower()
    warned = [x for x in again.stderr.splitlines() if x.strip()]
    assert warned
    assert all(x.startswith("warning: damaged cache shard ") for x in warned)
    assert {Path(x.split("shard ", 1)[1].split(":", 1)[0]) for x in warned} <= set(shards)
    assert again.stdout == first.stdout or command == "embed"  # recomputed: the same answer
    if command == "embed":
        assert "images cached / computed" in again.stdout
    verify = pictext("store", "verify", cache=cache)  # what was set aside is gone: sound now
    assert verify.returncode == 0, verify.stderr
    assert " 0 damaged" in verify.stdout


@pytest.mark.slow
def test_store_verify_names_each_damaged_shard(fx, tmp_path):
    cache = tmp_path / "cache"
    assert pictext("embed", str(fx["data"]), *TOY, "--no-progress", cache=cache).returncode == 0
    shards = _scramble_shards(cache)
    res = pictext("store", "verify", cache=cache)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == len(shards)
    for line, shard in zip(sorted(lines), sorted(shards), strict=True):
        assert line.startswith(f"warning: damaged cache shard {shard}: checksum mismatch")
    assert not list((cache / "embeddings").rglob("[0-9]*.vecs.npy"))  # all set aside


# ---- a field the model never saw: not fed to it, and the answer says so -----------------------
@pytest.fixture(scope="module")
def tagless(fx, tmp_path_factory) -> Path:
    """A classifier trained on ``fx``'s collection with every tag removed (as tuxpaint has)."""
    from service_toys import ToyImageEncoder, ToyTextEncoder

    from pictext.classify.fusion import FusionClassifier
    from pictext.data import load_dataset
    from pictext.store import embed_dataset
    from pictext.store.inputs import drop_inputs

    ds = load_dataset(fx["data"])
    feats = embed_dataset(ds, ToyImageEncoder(), ToyTextEncoder(), progress=False)
    model = tmp_path_factory.mktemp("tagless") / "classifier"
    FusionClassifier(
        epochs=3, patience=3, tune_dim=8, image_tune_dim=8, hidden=16, lr=1e-2, batch_size=8
    ).fit(drop_inputs(feats, ["tags"]), ds.labels(), classes=ds.classes).save(model)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("tags", ["red,colour", "blue", "animals,vehicles,truck"])
def test_tags_the_model_never_saw_are_ignored_and_named(fx, tagless, tags):
    base = ["tag", str(fx["good"]), "--model", str(tagless), "--title", "a picture", "--json"]
    plain = pictext(*base)
    given = pictext(*base, "--tags", tags)
    for res in (plain, given):
        assert res.returncode == 0, res.stderr
        assert "Traceback" not in res.stderr
    want, got = json.loads(plain.stdout), json.loads(given.stdout)
    assert "ignored" not in want
    assert got["ignored"] == ["tags"]
    assert got["top"] == want["top"]  # the tags changed nothing
    text = pictext(*base[:-1], "--tags", tags)
    assert text.returncode == 0
    assert "(ignored: tags: the model was trained without them)" in text.stdout
    assert len(text.stdout.strip().splitlines()) == 1


# ---- one decoder rule: EXIF orientation, impossible SVG sizes ----------------------------------
@pytest.mark.slow
def test_a_phone_photo_is_tagged_upright_whatever_its_exif_orientation(fx, tmp_path):
    arr = np.zeros((64, 64, 3), np.uint8)
    arr[:32, :32], arr[:32, 32:], arr[32:] = (255, 0, 0), (0, 0, 255), (0, 200, 0)
    upright = Image.fromarray(arr)  # quadrants differ: the toy encoder sees orientation
    turn = Image.Transpose
    answers = {}
    for orientation, stored in [
        (1, None),
        (3, turn.ROTATE_180),
        (6, turn.ROTATE_90),
        (8, turn.ROTATE_270),
    ]:
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.png"
        (upright.transpose(stored) if stored else upright).save(path, exif=exif.tobytes())
        res = pictext("tag", str(path), "--model", str(fx["model"]), "--json")
        assert res.returncode == 0, res.stderr
        answers[orientation] = json.loads(res.stdout)["top"]
    sideways = tmp_path / "sideways.png"  # the same pixels as o6.png, without the EXIF tag
    upright.transpose(turn.ROTATE_90).save(sideways)
    res = pictext("tag", str(sideways), "--model", str(fx["model"]), "--json")
    assert json.loads(res.stdout)["top"] != answers[1]  # orientation changes the answer...
    assert all(a == answers[1] for a in answers.values())  # ...and EXIF is applied


@pytest.mark.slow
@pytest.mark.parametrize("attrs", ['width="-10" height="10"', 'width="1e40" height="5"'])
def test_an_svg_of_impossible_size_is_refused(fx, tmp_path, attrs):
    path = tmp_path / "bad.svg"
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" {attrs}><rect/></svg>')
    res = pictext("tag", str(path), "--model", str(fx["model"]))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0]
    assert "impossible size" in lines[0]


# ---- one text rule: queries that mean nothing, NUL in a field -----------------------------------
MEANINGLESS = [
    "id:",
    "text:",
    "file:",
    " text:  ",
    "\u200b\u200b",
    "\u202e\u2066",
    "\x07\x1b",
    "  ",
]


@pytest.mark.slow
@pytest.mark.parametrize("query", MEANINGLESS, ids=lambda q: q.encode("unicode_escape").decode())
def test_a_query_that_means_nothing_is_one_line(fx, query):
    res = pictext("similar", query, "--index", str(fx["index"]))
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert ("empty" in lines[0]) or ("bare" in lines[0])
    assert res.stdout.strip() == ""


@pytest.mark.slow
def test_a_nul_in_a_title_is_one_rule_for_tag_and_embed(fx, tmp_path):
    manifest = tmp_path / "m.jsonl"
    shutil.copy(fx["good"], tmp_path / "good.png")  # beside the manifest: inside its root
    rows = [{"path": "good.png", "title": "a red\u0000 picture", "label": "red"}]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    tagged = pictext("tag", "--manifest", str(manifest), "--model", str(fx["model"]))
    assert tagged.returncode == 1
    assert "title is not text: it holds NUL bytes" in tagged.stderr
    embedded = pictext("embed", str(manifest), *TOY, "--no-progress", cache=tmp_path / "c")
    assert embedded.returncode == 0, embedded.stderr
    assert "title is not text: it holds NUL bytes" in embedded.stdout
    assert "texts refused" in embedded.stdout
