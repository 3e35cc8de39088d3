"""The torch module behind :class:`~pictext.classify.fusion.FusionClassifier`.

Each input (image, title, description, tags, ...) is standardised, goes through its own
dense tuning layer, and is replaced by a learned "missing" vector where its mask is False.
The tuned inputs are concatenated (the fusion layer input), then a dense layer and a
linear classifier follow.
"""

from __future__ import annotations

import torch
from torch import nn


class FusionNet(nn.Module):
    """Late-fusion classifier over per-input embeddings.

    Args:
        dims: input name -> embedding width, in a fixed order.
        n_classes: number of classes.
        tune_dim: width of each text input's tuning layer.
        image_tune_dim: width of the image tuning layer; 0 passes the image through.
        hidden: width of the dense layer after concatenation; 0 for a linear classifier.
        dropout: dropout after concatenation and after the hidden layer.
        input_dropout: dropout on each standardised input embedding.
        aux_heads: add per-modality classifiers on the image branch and the text branch.
        combine: with aux heads, how inference uses them: ``"fused"`` ignores them,
            ``"aux_missing"`` scores rows lacking a modality with the present branch's head,
            ``"sum"`` also adds the branch heads' log-probabilities to the fused head's.
    """

    def __init__(
        self,
        dims: dict[str, int],
        n_classes: int,
        tune_dim: int,
        image_tune_dim: int,
        hidden: int,
        dropout: float,
        input_dropout: float,
        aux_heads: bool = False,
        combine: str = "fused",
    ) -> None:
        super().__init__()
        if combine not in COMBINE:
            raise ValueError(f"unknown combine {combine!r}; use one of {COMBINE}")
        self.combine = combine
        self.names = list(dims)
        self.tune = nn.ModuleDict()
        self.missing = nn.ParameterDict()
        width, widths = 0, {}
        for name, d in dims.items():
            out = image_tune_dim if name == "image" else tune_dim
            layers: list[nn.Module] = [nn.Dropout(input_dropout)]
            if out > 0:
                layers += [nn.Linear(d, out), nn.GELU()]
            else:
                out = d
            self.tune[name] = nn.Sequential(*layers)
            self.missing[name] = nn.Parameter(torch.zeros(out))
            self.register_buffer(f"mean_{name}", torch.zeros(d))
            self.register_buffer(f"std_{name}", torch.ones(d))
            width += out
            widths[name] = out
        self.fuse = nn.Sequential(nn.Dropout(dropout))
        if hidden > 0:
            self.fuse.extend([nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout)])
            width = hidden
        self.classifier = nn.Linear(width, n_classes)
        # auxiliary per-modality classifiers: each branch must be useful alone (see combine)
        self.aux = nn.ModuleDict()
        text_width = sum(w for n, w in widths.items() if n != "image")
        if aux_heads and "image" in widths and text_width:
            self.aux["image"] = nn.Linear(widths["image"], n_classes)
            self.aux["text"] = nn.Linear(text_width, n_classes)

    def set_normalisation(self, name: str, mean: torch.Tensor, std: torch.Tensor) -> None:
        getattr(self, f"mean_{name}").copy_(mean)
        getattr(self, f"std_{name}").copy_(std)

    def tuned(
        self, x: dict[str, torch.Tensor], m: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Each input after standardisation and its tuning layer (missing rows replaced)."""
        out = {}
        for name in self.names:
            z = (x[name] - getattr(self, f"mean_{name}")) / getattr(self, f"std_{name}")
            z = self.tune[name](z)
            out[name] = torch.where(m[name][:, None], z, self.missing[name].expand_as(z))
        return out

    def fusion(self, x: dict[str, torch.Tensor], m: dict[str, torch.Tensor]) -> torch.Tensor:
        """The representation the classifier reads (after the hidden layer)."""
        t = self.tuned(x, m)
        return self.fuse(torch.cat([t[n] for n in self.names], dim=1))

    def forward(self, x: dict[str, torch.Tensor], m: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class logits, combined with the auxiliary heads as ``combine`` says."""
        logits, aux = self.forward_with_aux(x, m)
        if not aux or self.combine == "fused":
            return logits
        has_img = m["image"]
        has_txt = torch.stack([m[n] for n in self.names if n != "image"]).any(dim=0)
        if self.combine == "sum":
            # late fusion: fused head + each present branch's own head (log-probabilities)
            lp = torch.log_softmax
            logits = (
                lp(logits, 1)
                + torch.where(has_img[:, None], lp(aux["image"], 1), 0.0)
                + torch.where(has_txt[:, None], lp(aux["text"], 1), 0.0)
            )
        # a row with one modality missing is scored by the present modality's own head
        logits = torch.where((has_img & ~has_txt)[:, None], aux["image"], logits)
        return torch.where((has_txt & ~has_img)[:, None], aux["text"], logits)

    def forward_with_aux(
        self, x: dict[str, torch.Tensor], m: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fused logits plus the auxiliary heads' logits (``{}`` without aux heads)."""
        t = self.tuned(x, m)
        logits = self.classifier(self.fuse(torch.cat([t[n] for n in self.names], dim=1)))
        if not self.aux:
            return logits, {}
        text = torch.cat([t[n] for n in self.names if n != "image"], dim=1)
        return logits, {"image": self.aux["image"](t["image"]), "text": self.aux["text"](text)}


COMBINE: tuple[str, ...] = ("fused", "aux_missing", "sum")  # how aux heads enter inference


def drop_modalities(
    m: dict[str, torch.Tensor], p_modality: float, p_field: float, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    """Randomly mark inputs missing for training (modality dropout).

    Per row, with probability ``p_modality`` the image is dropped, and with the same
    probability (exclusive) all text is dropped, so a row never loses both; each text input
    is also dropped on its own with probability ``p_field``. Only applies when both an
    image and a text input are present.
    """
    names = list(m)
    n = next(iter(m.values())).shape[0]
    text = [k for k in names if k != "image"]
    out = dict(m)
    if p_field > 0 and text:
        for k in text:
            out[k] = out[k] & (torch.rand(n, generator=gen) >= p_field)
    if p_modality > 0 and text and "image" in names:
        u = torch.rand(n, generator=gen)
        has_text = torch.stack([m[k] for k in text]).any(dim=0)
        out["image"] = out["image"] & ((u >= p_modality) | ~has_text)
        keep_text = (u < p_modality) | (u >= 2 * p_modality) | ~m["image"]
        for k in text:
            out[k] = out[k] & keep_text
    return out
