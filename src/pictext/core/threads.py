"""How many CPU threads the torch heads use (encoders take their own ``threads`` option)."""

from __future__ import annotations


def set_torch_threads(n: int) -> None:
    """Let torch use ``n`` CPU threads per call (a process-wide setting); 0 keeps its default.

    Imports torch: call it only where a head runs.
    """
    if n > 0:
        import torch

        torch.set_num_threads(n)
