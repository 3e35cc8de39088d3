"""Test-time views: the embedding as the mean over views, each setting its own version."""

from __future__ import annotations

import numpy as np
import pytest

from pictext.encoders.views import check_views, mean_over_views, view_batch, views_tag


def test_flip_mirrors_left_to_right() -> None:
    batch = np.arange(2 * 3 * 2 * 4, dtype=np.float32).reshape(2, 3, 2, 4)
    flipped = view_batch(batch, "flip")
    assert flipped.flags.c_contiguous
    assert np.array_equal(flipped[1, 2, 0], batch[1, 2, 0, ::-1])
    assert view_batch(batch, "identity") is batch


def test_mean_over_views_averages_the_runs() -> None:
    batch = np.array([[[[1.0, 2.0, 6.0]]]], np.float32)  # [1, 1, 1, 3]

    def first_pixel(x: np.ndarray) -> np.ndarray:
        return x[:, 0, 0, :1]

    assert mean_over_views(first_pixel, batch, ("identity",))[0, 0] == 1.0
    assert mean_over_views(first_pixel, batch, ("flip",))[0, 0] == 6.0
    assert mean_over_views(first_pixel, batch, ("flip", "identity"))[0, 0] == 3.5


@pytest.mark.parametrize("views", [(), ("rotate",), ("identity", "blur")])
def test_unknown_or_no_views_are_refused(views: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="views must be"):
        check_views(views)


def test_views_are_part_of_the_version_in_one_order() -> None:
    from pictext.encoders import create_encoder

    assert views_tag(("identity",)) == ""
    assert views_tag(("flip", "identity")) == views_tag(("identity", "flip")) != ""
    plain = create_encoder("efficientnet-lite0").version
    tta = create_encoder("efficientnet-lite0", views=("flip", "identity"))
    assert tta.config.views == ("identity", "flip")
    assert tta.version == plain + views_tag(("identity", "flip"))
    with pytest.raises(ValueError, match="views must be"):
        create_encoder("efficientnet-lite0", views=("mirror",))


@pytest.mark.slow
def test_tta_embedding_is_the_mean_of_the_views_and_mirror_invariant(real_encoder) -> None:
    """Real weights: the two-view encoder's vector is the mean of the identity and flip-only
    encoders' vectors, and an image and its mirror image get the same vector."""
    from PIL import Image, ImageOps

    pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (40, 70, 3), dtype=np.uint8))
    plain = real_encoder("efficientnet-lite0")
    flip = real_encoder("efficientnet-lite0", views=("flip",))
    tta = real_encoder("efficientnet-lite0", views=("identity", "flip"))
    a, b = plain.encode([image])[0], flip.encode([image])[0]
    assert not np.allclose(a, b, atol=1e-3)  # the view changes the vector
    assert np.allclose(tta.encode([image])[0], (a + b) / 2, atol=1e-5)
    mirrored = tta.encode([ImageOps.mirror(image)])[0]
    assert np.allclose(tta.encode([image])[0], mirrored, atol=1e-4)
