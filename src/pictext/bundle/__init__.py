"""Bundles: the folder of saved parts (classifier, index, captioner, audit) and the one
object that answers through them, :func:`pictext.load`.

Layer 6: above the tasks and the audit, below the front ends (CLI, service, report), which
answer through :class:`~pictext.bundle.model.Model`.

- ``layout``: where a bundle's parts live (``find_bundle``, ``bundle.json``).
- ``parts``: a part of a bundle or one saved part, by command-line path; the current index.
- ``model``: :func:`load` and :class:`Model` (tag, verify, similar, divergent, recommend,
  caption, caption_search, browse).
"""

from __future__ import annotations

from pictext.bundle.model import Model, load

__all__ = ["Model", "load"]
