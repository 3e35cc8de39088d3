"""The README's main job, ``pictext demo``, end to end on real tuxpaint data (short settings)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from pictext.core import defaults

pytestmark = pytest.mark.slow


def test_demo_writes_tables_pictures_and_a_serveable_bundle(tmp_path) -> None:
    from pictext.bundle.layout import find_bundle
    from pictext.cli import app

    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--seeds", "0", "--rank-epochs", "2"]
    res = CliRunner().invoke(app, [*args, "--caption-epochs", "2"])
    assert res.exit_code == 0, res.output
    assert "test top-1" in res.output  # the classifier step printed its figures
    assert re.search(r"(AGREE|DISAGREE) with 'animals'", res.output)
    assert "most divergent from" in res.output

    table = (out / "table" / "table3.md").read_text()
    assert f"fusion {defaults.IMAGE_ENCODER} + {defaults.TEXT_ENCODER}" in table
    assert "average probs" in table
    assert json.loads((out / "bundle.json").read_text())["dataset"] == "tuxpaint"

    page = (out / "report.html").read_text()
    pictures = re.findall(r'<img src="([^"]+)"', page)
    assert len(pictures) >= 5
    for rel in pictures:
        assert (out / rel).stat().st_size > 1000, rel
    assert find_bundle(out).missing() == []  # classifier, index and captioner all there
