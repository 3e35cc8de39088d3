"""Budgets enforced before the work: SVG and raster bombs, text length, k.

Every bomb here is tiny on disk and would take hundreds of MB to GBs, or many CPU seconds,
if it were rendered; each must be refused with a BudgetError naming the item and the
budget, fast and without a large allocation (tracemalloc's peak in this process).
"""

from __future__ import annotations

import base64
import gzip
import io
import os
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pictext.core.atomic import remove_stale_temporaries
from pictext.core.defaults import MAX_TAGS, MAX_TEXT_CHARS
from pictext.core.errors import BudgetError, StateError
from pictext.data import images as images_module
from pictext.data.budgets import cap_item_text, cap_items_text, cap_text
from pictext.data.images import (
    ImageTooLargeError,
    ImageUnavailableError,
    decode_image,
    load_image,
)
from pictext.data.item import Item
from pictext.data.svg import SvgBudgetError, SvgUnavailableError
from pictext.data.svg import render as svgrender
from pictext.data.svg.budget import SvgBudget, check_svg_budget
from pictext.data.svg.render import RenderLimits, render_svg, sandboxed
from pictext.data.svg.worker import draw

NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
OPENCLIPART = Path("/usr/share/openclipart/svg")
needs_sandbox = pytest.mark.skipif(not sandboxed(), reason="no process limits on this OS")


def png_of_size(width: int, height: int) -> bytes:
    """A valid grey PNG of any size, made without holding its pixels (a few KB)."""
    deflate = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def use_bomb(levels: int = 5, fan: int = 9) -> str:
    """``fan`` ** ``levels`` paths from a 1-2 KB document of nested ``<use>``."""
    defs = ['<path id="a0" d="M0 0L1 1L0 1z"/>']
    for level in range(1, levels + 1):
        uses = "".join(f'<use xlink:href="#a{level - 1}"/>' for _ in range(fan))
        defs.append(f'<g id="a{level}">{uses}</g>')
    body = f'<defs>{"".join(defs)}</defs><use xlink:href="#a{levels}"/>'
    return f'<svg {NS} width="10" height="10">{body}</svg>'


def data_png_svg(width: int, height: int) -> str:
    b64 = base64.b64encode(png_of_size(width, height)).decode()
    return (
        f'<svg {NS} width="100" height="100"><image width="100" height="100" '
        f'xlink:href="data:image/png;base64,{b64}"/></svg>'
    )


PATTERN = (
    f'<svg {NS} width="10" height="10"><defs><pattern id="p" patternUnits="userSpaceOnUse" '
    'width="20000" height="20000"><rect width="20000" height="20000" fill="red"/></pattern>'
    '</defs><rect width="10" height="10" fill="url(#p)"/></svg>'
)
BOMBS: dict[str, tuple[str, str]] = {  # name -> (document, what the message must name)
    "data: png": (data_png_svg(5000, 4000), "embedded image <image>"),
    "pattern tile": (PATTERN, "pattern tile <pattern id='p'>"),
    "pattern on its box": (
        f'<svg {NS} width="10" height="10"><defs><pattern id="q" width="1" height="1">'
        '<rect width="9" height="9"/></pattern></defs>'
        '<rect width="20000" height="20000" fill="url(#q)"/></svg>',
        "pattern tile <pattern id='q'>",
    ),
    "inherited pattern": (
        f'<svg {NS} width="10" height="10"><defs><pattern id="p" patternUnits="userSpaceOnUse" '
        'width="9000" height="9000"><rect width="1" height="1"/></pattern></defs>'
        '<g fill="url(#p)"><circle r="1"/><circle r="2"/></g></svg>',
        "pattern tile <pattern id='p'>",
    ),
    "mask": (
        f'<svg {NS} width="10" height="10"><mask id="m" maskUnits="userSpaceOnUse" '
        'width="20000" height="20000"><rect width="20000" height="20000" fill="white"/></mask>'
        '<rect width="10" height="10" mask="url(#m)"/></svg>',
        "mask <mask id='m'>",
    ),
    "use expansion": (use_bomb(), "132859 elements"),
    "self reference": (
        f'<svg {NS} width="10" height="10"><g id="g"><use xlink:href="#g"/></g></svg>',
        "<g id='g'> refers to itself",
    ),
    "nested svg": (
        f'<svg {NS} width="10" height="10"><image width="10" height="10" xlink:href="data:'
        f'image/svg+xml;base64,{base64.b64encode(PATTERN.encode()).decode()}"/></svg>',
        "pattern tile <pattern id='p'>",
    ),
}


def refused(make_error: Callable[[], object], *, item: str, seconds: float = 2.0) -> BudgetError:
    """The BudgetError the call raises, checked to come fast and without a big allocation
    (timed on a first call, then traced by tracemalloc on a second, which slows Python)."""
    start = time.perf_counter()
    with pytest.raises(BudgetError) as info:
        make_error()
    took = time.perf_counter() - start
    tracemalloc.start()
    try:
        with pytest.raises(BudgetError):
            make_error()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    err = info.value
    assert took < seconds, f"refused after {took:.1f} s"
    assert peak < 64 << 20, f"allocated {peak >> 20} MiB before refusing"
    assert err.item == item
    assert err.status == 413
    assert item in str(err)
    return err


@pytest.mark.parametrize("name", list(BOMBS))
def test_svg_bombs_are_refused_before_rendering(name: str, tmp_path: Path) -> None:
    document, names = BOMBS[name]
    path = tmp_path / "bomb.svg"
    path.write_text(document, encoding="utf-8")
    assert len(document) < 200_000
    err = refused(lambda: load_image(Item("bomb", str(path)), size=224), item="bomb")
    assert isinstance(err, ImageTooLargeError)
    assert names in str(err)
    # The upload path (no cache) refuses the same way.
    upload = refused(lambda: decode_image(document.encode(), name="up.svg"), item="up.svg")
    assert names in str(upload)


def test_svg_budget_messages_name_the_budget() -> None:
    with pytest.raises(SvgBudgetError, match="budget of 16000000 pixels"):
        check_svg_budget(PATTERN.encode(), (10.0, 10.0))
    with pytest.raises(SvgBudgetError, match="the budget is 50000"):
        check_svg_budget(use_bomb().encode(), (10.0, 10.0))
    many = f"<svg {NS}>" + "<rect/>" * 30 + "</svg>"
    with pytest.raises(SvgBudgetError, match="more than 20 elements"):
        check_svg_budget(many.encode(), (10.0, 10.0), SvgBudget(max_elements=20))


def test_the_output_size_is_checked_before_rendering(tmp_path: Path) -> None:
    path = tmp_path / "s.svg"
    path.write_text(f'<svg {NS} width="4000" height="3000"><rect width="9" height="9"/></svg>')
    err = refused(lambda: load_image(Item("s", str(path)), size=10_000), item="s")
    assert "rendering at 10000x7500 pixels is over the limit of 40000000" in str(err)


def test_svgz_bomb_is_refused_while_decompressing(tmp_path: Path) -> None:
    body = (
        f'<svg {NS} width="10" height="10"><desc>'.encode() + b" " * (17 << 20) + b"</desc></svg>"
    )
    path = tmp_path / "z.svgz"
    path.write_bytes(gzip.compress(body))
    assert path.stat().st_size < 100_000
    err = refused(lambda: load_image(Item("z", str(path))), item="z")
    assert "decompresses to more than 16777216 bytes" in str(err)


def test_raster_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_of_size(8000, 8000))  # 64 Mpx in 62 KB
    err = refused(lambda: load_image(Item("bomb", str(path)), size=224), item="bomb")
    assert "8000x8000 pixels (limit 40000000)" in str(err)


def test_an_oversized_file_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.png"
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)  # about 12 KB
    monkeypatch.setattr(images_module, "MAX_IMAGE_BYTES", 1000)
    err = refused(lambda: load_image(Item("big", str(path))), item="big")
    assert "over 1000 bytes" in str(err)


@needs_sandbox
def test_what_the_static_check_cannot_see_stops_at_the_memory_limit() -> None:
    # A pattern sized by a path's box: the static check does not compute path boxes.
    svg = (
        f'<svg {NS} width="10" height="10"><defs><pattern id="p" width="1" height="1">'
        '<rect width="20000" height="20000" fill="red"/></pattern></defs>'
        '<path d="M0 0H20000V20000H0z" fill="url(#p)"/></svg>'
    ).encode()
    check_svg_budget(svg, (10.0, 10.0))  # passes the static check
    with pytest.raises(SvgBudgetError, match="memory budget of 512 MiB"):
        render_svg(svg, 256)


@needs_sandbox
def test_a_slow_rendering_stops_at_the_cpu_limit() -> None:
    limits = RenderLimits(cpu_seconds=1, budget=SvgBudget(max_elements=10**9))
    start = time.perf_counter()
    with pytest.raises(SvgBudgetError, match="time budget of 1 CPU seconds"):
        render_svg(use_bomb().encode(), 256, limits)  # about 20 s of cairosvg otherwise
    assert time.perf_counter() - start < 10


def _openclipart_with(feature: bytes) -> Path | None:
    if not OPENCLIPART.is_dir():
        return None
    return next((p for p in sorted(OPENCLIPART.rglob("*.svg")) if feature in p.read_bytes()), None)


@pytest.mark.parametrize("feature", [b"<pattern", b"<mask", b"<image", b"<use", b"<marker"])
def test_real_svgs_render_as_cairosvg_draws_them(feature: bytes, tmp_path: Path) -> None:
    path = _openclipart_with(feature)
    if path is None:
        pytest.skip("no openclipart SVG with this feature installed")
    img = load_image(Item("real", str(path)))
    from pictext.data.svg import prepare_svg

    svg, (w, h) = prepare_svg(path.read_bytes())
    scale = 256 / max(w, h)
    direct = Image.open(io.BytesIO(draw(svg, max(1, round(w * scale)), max(1, round(h * scale)))))
    expected = images_module.to_rgb(direct)
    assert np.array_equal(np.asarray(img), np.asarray(expected))


def test_small_patterns_images_and_uses_render(tmp_path: Path) -> None:
    b64 = base64.b64encode(png_of_size(40, 30)).decode()
    svg = (
        f'<svg {NS} width="40" height="40"><defs><pattern id="p" patternUnits="userSpaceOnUse" '
        'width="4" height="4"><rect width="2" height="2" fill="#ff0000"/></pattern>'
        '<g id="dot"><circle r="2" fill="#00ff00"/></g></defs>'
        '<rect width="20" height="20" fill="url(#p)"/>'
        f'<image x="20" width="20" height="15" xlink:href="data:image/png;base64,{b64}"/>'
        '<use xlink:href="#dot" x="30" y="30"/><use xlink:href="#dot" x="35" y="35"/></svg>'
    )
    path = tmp_path / "ok.svg"
    path.write_text(svg, encoding="utf-8")
    img = np.asarray(load_image(Item("ok", str(path))))
    assert img.shape == (256, 256, 3)
    assert (img[:, :, 0] > 200).any()  # the pattern's red squares
    assert img[:128, 128:].min() < 10  # the black embedded image
    assert (img[..., 1] > 200).any()  # the green dots


# ---- failures are cached only when they are the document's --------------------------------
def _raster_files(suffix: str) -> list[Path]:
    from pictext.core.paths import cache_dir

    return list(cache_dir("raster").rglob(f"*{suffix}"))


@pytest.mark.parametrize(
    "failure", [MemoryError("cairo out of memory"), PermissionError(13, "Permission denied")]
)
def test_a_transient_failure_leaves_no_err_file(
    failure: Exception, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.svg"
    path.write_text(f'<svg {NS} width="10" height="10"><rect width="5" height="5"/></svg>')

    def fail(*_args: object) -> bytes:
        raise failure

    monkeypatch.setattr(svgrender, "sandboxed", lambda: False)  # in-process: its own errors
    monkeypatch.setattr(svgrender, "draw", fail)
    with pytest.raises(ImageUnavailableError) as info:
        load_image(Item("s", str(path)))
    assert isinstance(info.value, StateError)
    assert info.value.status == 503
    assert info.value.item == "s"
    assert _raster_files(".err") == []
    monkeypatch.undo()  # the pressure is gone: the same file renders now
    assert load_image(Item("s", str(path))).size == (256, 256)


def test_a_renderer_that_died_leaves_no_err_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.svg"
    path.write_text(f'<svg {NS} width="10" height="10"><rect width="5" height="5"/></svg>')

    def died(*_args: object) -> bytes:
        raise SvgUnavailableError("the SVG renderer's process ended with status -9")

    monkeypatch.setattr(svgrender, "sandboxed", lambda: True)
    monkeypatch.setattr(svgrender, "_render_in_child", died)
    with pytest.raises(ImageUnavailableError):
        load_image(Item("s", str(path)))
    assert _raster_files(".err") == []


def test_budget_refusals_are_not_cached_but_broken_documents_are(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.svg"
    bomb.write_text(PATTERN, encoding="utf-8")
    with pytest.raises(ImageTooLargeError):
        load_image(Item("bomb", str(bomb)))
    assert _raster_files(".err") == []
    broken = tmp_path / "broken.svg"
    broken.write_text(f'<svg {NS} width="10" height="10"><rect width="x', encoding="utf-8")
    with pytest.raises(images_module.ImageDecodeError, match="does not render"):
        load_image(Item("broken", str(broken)))
    assert len(_raster_files(".err")) == 1


def test_stale_temporary_files_are_removed_when_the_raster_cache_is_first_written(
    tmp_path: Path,
) -> None:
    from pictext.core.paths import cache_dir
    from pictext.data.svg import renderer_version

    folder = cache_dir("raster") / renderer_version() / "ab"
    folder.mkdir(parents=True)
    old, fresh = folder / ".x.png.killed.tmp", folder / ".y.png.writing.tmp"
    old.write_bytes(b"half")
    fresh.write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    path = tmp_path / "s.svg"
    path.write_text(f'<svg {NS} width="10" height="10"><rect width="5" height="5"/></svg>')
    load_image(Item("s", str(path)))
    assert not old.exists()
    assert fresh.exists()  # a writer may be writing it now


def test_remove_stale_temporaries_keeps_other_files(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"graph")
    stale = tmp_path / "model.1234.onnx.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    assert remove_stale_temporaries(tmp_path, pattern="*.onnx.tmp") == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


# ---- text and k -----------------------------------------------------------------------------
def test_a_megabyte_description_is_cut_fast() -> None:
    item = Item("long", description="word " * 200_000, title="t" * 3_000_000)
    start = time.perf_counter()
    short, cuts = cap_item_text(item)
    assert time.perf_counter() - start < 0.5
    assert len(short.description) <= MAX_TEXT_CHARS
    assert short.description.endswith("word")  # cut at a space
    assert len(short.title) == MAX_TEXT_CHARS
    assert [(c.field, c.size) for c in cuts] == [("title", 3_000_000), ("description", 1_000_000)]
    assert str(cuts[1]) == (
        f"long: description cut to its first {MAX_TEXT_CHARS} characters (it has 1000000)"
    )


def test_tags_are_cut_by_count_then_by_length() -> None:
    item = Item("t", tags=tuple(f"tag{i:04d}" for i in range(1000)))
    short, cuts = cap_item_text(item)
    assert short.tags == item.tags[:MAX_TAGS]
    assert [(c.field, c.unit) for c in cuts] == [("tags", "tags")]
    long_tags = Item("u", tags=("x" * 3000, "y" * 3000))
    short, cuts = cap_item_text(long_tags)
    assert short.tags == ("x" * 3000,)
    assert cuts[0].unit == "characters"


def test_text_within_budget_is_left_alone() -> None:
    item = Item("a", title="a cat", description="on a mat", tags=("pet",))
    assert cap_item_text(item) == (item, [])
    assert cap_text("abc", 3) == ("abc", False)


def test_cuts_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    items = [Item(f"i{k}", description="x" * (MAX_TEXT_CHARS + 1)) for k in range(5)]
    with caplog.at_level("WARNING"):
        _, cuts = cap_items_text(items)
    assert len(cuts) == 5
    assert [r.getMessage() for r in caplog.records][-1] == (
        "and 2 more text fields cut to their budget"
    )


def test_embed_items_encodes_only_text_within_budget() -> None:
    from pictext.store import MemoryCache, embed_items

    class Recording:
        name, version, dim = "rec", "1", 2

        def __init__(self) -> None:
            self.longest = 0

        def encode(self, texts: list[str]) -> np.ndarray:
            self.longest = max([self.longest, *map(len, texts)])
            return np.ones((len(texts), 2), np.float32)

    enc = Recording()
    items = [Item("big", description="y " * 1_500_000, tags=("a",) * 1), Item("small", title="s")]
    feats, failures = embed_items(items, None, enc, memory=MemoryCache(16))
    assert failures == []
    assert enc.longest <= 3 * MAX_TEXT_CHARS + 8  # "text" joins title, description and tags
    assert [(t.item_id, t.field) for t in feats.truncated] == [("big", "description")]
    assert feats.text_mask["description"].tolist() == [True, False]
    assert feats.subset(np.array([1])).truncated == []


def test_budget_errors_are_one_family() -> None:
    err = ImageTooLargeError("x.svg", "over")
    assert isinstance(err, BudgetError)
    assert (err.status, err.code, err.reason) == (413, "over_budget", "too_large")
    gone = ImageUnavailableError("x.svg", "later")
    assert (gone.status, gone.code, gone.reason) == (503, "unavailable", "unavailable")
