"""SVG documents to PNG rasters for the decoder, cached on disk by content.

A file's SVG is rendered once per render size (:func:`~pictext.data.svg.render.render_svg`,
with its budgets) and the PNG kept in the raster cache, keyed by the document's SHA-1 and
the renderer's version. Only a document that does not render is remembered as failed (a
``.err`` beside): a budget refusal (budgets may change) and a transient failure (memory
pressure, a renderer killed from outside) are tried again next time. Temporary files a
killed writer left are removed when a process first uses the cache.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from pathlib import Path

from pictext.core.atomic import atomic_write_bytes, remove_stale_temporaries
from pictext.data.errors import ImageDecodeError, ImageTooLargeError, ImageUnavailableError
from pictext.data.svg import SvgBudgetError, SvgRenderError, SvgUnavailableError
from pictext.data.svg.render import RenderLimits, render_svg

__all__ = ["svg_png"]


def svg_png(item_id: str, data: bytes, render_size: int, max_pixels: int, *, cache: bool) -> bytes:
    """The SVG rendered to PNG bytes (longest side ``render_size``), from the cache if there.

    Args:
        item_id: names the item in errors.
        data: the SVG (or .svgz) bytes.
        render_size: the longest side in pixels.
        max_pixels: the output's pixel limit.
        cache: use the raster cache; False renders in memory only (uploads).

    Raises:
        ImageTooLargeError: over a budget. ImageUnavailableError: failed for now.
        ImageDecodeError: does not render (reason ``corrupt``).
    """
    limits = RenderLimits(max_pixels=max_pixels)
    if cache:
        return _cached_svg_png(item_id, data, render_size, limits)
    try:
        return render_svg(data, render_size, limits)
    except (SvgRenderError, SvgUnavailableError) as err:
        raise _svg_error(item_id, err) from None


def _svg_error(item_id: str, err: SvgRenderError | SvgUnavailableError) -> ImageDecodeError:
    """The decoder's error for a rendering failure, of the same kind."""
    if isinstance(err, SvgBudgetError):
        return ImageTooLargeError(item_id, f"SVG over budget: {err}")
    if isinstance(err, SvgUnavailableError):
        return ImageUnavailableError(item_id, f"SVG not rendered now: {err}")
    return ImageDecodeError(item_id, f"SVG does not render: {err}", "corrupt")


def _cached_svg_png(item_id: str, data: bytes, render_size: int, limits: RenderLimits) -> bytes:
    """Rasterise once; the PNG is cached by SVG content hash and render size.

    Only a document that does not render is remembered as failed (a ``.err`` file); a
    budget refusal (the budgets may change) or a transient failure is tried again next time.
    """
    from pictext.core.paths import cache_dir
    from pictext.data.svg import renderer_version

    key = hashlib.sha1(data).hexdigest()
    root = cache_dir("raster") / renderer_version()
    _sweep_once(root)
    target = root / key[:2] / f"{key}_{render_size}.png"
    failed = target.with_suffix(".err")
    if target.exists():
        return target.read_bytes()
    if failed.exists():
        raise ImageDecodeError(item_id, failed.read_text(encoding="utf-8"), "corrupt")
    try:
        png = render_svg(data, render_size, limits)
    except (SvgRenderError, SvgUnavailableError) as err:
        error = _svg_error(item_id, err)
        if error.reason == "corrupt":
            _cache_write(failed, error.problem.encode("utf-8"))
        raise error from None
    _cache_write(target, png)
    return png


_swept: set[Path] = set()
_swept_lock = threading.Lock()


def _sweep_once(root: Path) -> None:
    """Remove temporary files a killed writer left in the raster cache: once per process."""
    with _swept_lock:
        if root in _swept:
            return
        _swept.add(root)
    try:
        remove_stale_temporaries(root, pattern="*/*.tmp")
    except OSError as err:
        warnings.warn(f"cannot clean raster cache {root}: {err}", RuntimeWarning, stacklevel=3)


def _cache_write(path: Path, data: bytes) -> None:
    """Best effort: a read-only or full cache costs a re-render next time, not the item."""
    try:
        atomic_write_bytes(path, data)
    except OSError as err:
        warnings.warn(f"cannot write raster cache {path}: {err}", RuntimeWarning, stacklevel=3)
