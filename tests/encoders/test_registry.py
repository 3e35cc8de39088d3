"""Registry: names, kinds, defaults and the errors a user sees."""

from __future__ import annotations

import importlib.util
import sys

import pytest

import pictext.encoders._deps as deps
from pictext.encoders import (
    DEFAULTS,
    MissingPackageError,
    create_encoder,
    encoder_kind,
    get_entry,
    list_encoders,
)
from pictext.encoders._deps import require


def test_names_by_kind_with_defaults_first() -> None:
    images = [
        "efficientnet-lite0",
        "efficientnet-lite0-imagenet",
        "efficientnet-lite2",
        "efficientnet-lite2-int8",
    ]
    assert list_encoders("image") == ["efficientnet-lite0-int8", *images]
    assert list_encoders("text") == ["use", "minilm"]
    assert set(list_encoders()) == {"efficientnet-lite0-int8", *images, "use", "minilm"}
    assert DEFAULTS == {"image": "efficientnet-lite0-int8", "text": "use"}


@pytest.mark.parametrize(
    ("name", "kind", "dim"),
    [
        ("efficientnet-lite0", "image", 1280),
        ("efficientnet-lite2", "image", 1280),
        ("efficientnet-lite0-imagenet", "image", 2280),
        ("efficientnet-lite0-int8", "image", 1280),
        ("use", "text", 512),
        ("minilm", "text", 384),
    ],
)
def test_kind_and_dim(name: str, kind: str, dim: int) -> None:
    assert encoder_kind(name) == kind
    assert get_entry(name).dim == dim


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="image, text"):
        list_encoders("audio")


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(KeyError) as err:
        create_encoder("resnet50")
    message = str(err.value)
    assert "resnet50" in message
    for name in list_encoders():
        assert name in message


def test_unknown_option_lists_options() -> None:
    with pytest.raises(TypeError, match=r"no option \['colour'\].*runtime"):
        create_encoder("efficientnet-lite0", colour="red")


def test_fixed_field_cannot_be_overridden() -> None:
    with pytest.raises(TypeError, match="image_size"):
        create_encoder("efficientnet-lite0", image_size=300)


def test_bad_runtime_is_rejected() -> None:
    with pytest.raises(ValueError, match="runtime must be one of"):
        create_encoder("efficientnet-lite0", runtime="tensorrt")


def test_missing_package_names_pip_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def fake(name: str, *args: object) -> object:
        return None if name == "tokenizers" else real(name, *args)

    monkeypatch.setattr(deps.importlib.util, "find_spec", fake)
    with pytest.raises(MissingPackageError, match=r"pip install tokenizers"):
        create_encoder("minilm")


def test_require_names_pip_package() -> None:
    assert "no_such_module_xyz" not in sys.modules
    with pytest.raises(MissingPackageError, match=r"pip install no-such-pkg"):
        require("no_such_module_xyz", "no-such-pkg", purpose="a test")


def test_import_is_light() -> None:
    code = (
        "import sys, pictext.encoders as e; e.list_encoders();"
        "print(any(m in sys.modules for m in ('torch', 'onnxruntime', 'transformers')))"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_recorded_encoder_refuses_another_version() -> None:
    from types import SimpleNamespace

    from pictext.encoders.registry import EncoderVersionError, create_recorded_encoder

    def factory(name: str, **options: object) -> SimpleNamespace:
        return SimpleNamespace(name=name, version="v2", options=options)

    assert create_recorded_encoder("toy@v2", factory=factory, threads=1).options == {"threads": 1}
    assert create_recorded_encoder("toy", factory=factory).version == "v2"  # bare name: no check
    with pytest.raises(
        EncoderVersionError, match=r"built with encoder toy@v1 but the installed one is toy@v2"
    ):
        create_recorded_encoder("toy@v1", factory=factory)
