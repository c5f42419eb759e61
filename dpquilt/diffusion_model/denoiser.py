"""The conditional noise-prediction network, built from linear layers only.

Inputs are a record's codes and ``K`` noisy copies of its targets with their step
features (DPDM's noise multiplicity: ``K`` ``(t, eps)`` draws per record share one
per-record gradient). The codes enter as one multi-hot vector (one 1 per column, with
per-column offsets) through a linear layer: each code's column of that layer is its
embedding, and the record's condition is the sum of its codes' embeddings, which is
what an embedding table per column followed by a linear layer computes (TabDDPM and
FinDiff embed categorical columns so). Only ``nn.Linear`` layers hold parameters, so
:class:`.clipping.LinearTape` clips per-record gradients in one backward pass without
materialising them (Opacus's ``nn.Embedding`` norm sampler, which deduplicates indices
record by record, took half of each step when the codes went through embeddings).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ConditionalDenoiser", "offsets_of"]


class ConditionalDenoiser(nn.Module):
    """``eps_theta(x_t, t | codes)``: an MLP on noisy targets, step features and code embeddings.

    Parameters
    ----------
    n_codes : int
        Total codes over all conditioning columns.
    n_columns : int
        Conditioning columns per record (0: unconditional).
    n_targets : int
        Dimensions of ``x``.
    time_dim : int
        Width of the step features.
    hidden : int
        Width of the hidden layers (and of each code's embedding).
    depth : int
        Hidden layers after the input layer.
    generator : torch.Generator, optional
        Source of the initial weights (else PyTorch's default initialisation).

    Examples
    --------
    >>> net = ConditionalDenoiser(n_codes=5, n_columns=2, n_targets=3, time_dim=8, hidden=16, depth=1)
    >>> out = net(torch.zeros(7, 2, 3), torch.zeros(7, 2, 8), torch.zeros(7, 2, dtype=torch.long))
    >>> tuple(out.shape)
    (7, 2, 3)
    """

    def __init__(
        self,
        n_codes: int,
        n_columns: int,
        n_targets: int,
        time_dim: int,
        hidden: int,
        depth: int,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_codes = int(n_codes)
        self.condition = nn.Linear(self.n_codes, hidden) if n_columns else None
        self.inputs = nn.Linear(n_targets + time_dim, hidden)
        self.hidden = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.output = nn.Linear(hidden, n_targets)
        self.act = nn.SiLU()
        if generator is not None:
            self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """PyTorch's default initialisation of ``nn.Linear``, drawn from ``generator`` (no global seed)."""
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    bound = 1.0 / math.sqrt(module.in_features) if module.in_features else 0.0
                    module.weight.uniform_(-bound, bound, generator=generator)
                    module.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x_t: torch.Tensor, t_features: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Predicted noise, shape ``(B, K, n_targets)``.

        Parameters
        ----------
        x_t : (B, K, n_targets) noisy targets
        t_features : (B, K, time_dim) step features
        codes : (B, n_columns) codes already shifted by their column's offset
        """
        h = self.inputs(torch.cat([x_t, t_features], dim=-1))
        if self.condition is not None:
            blank = torch.zeros((codes.shape[0], self.n_codes), device=x_t.device, dtype=x_t.dtype)
            multi_hot = blank.scatter(1, codes, 1.0)  # out of place: torch.func can batch it
            h = h + self.condition(multi_hot).unsqueeze(1)
        h = self.act(h)
        for layer in self.hidden:
            h = self.act(layer(h))
        return self.output(h)


def offsets_of(sizes: Sequence[int]) -> list[int]:
    """Index of each column's first code in the multi-hot vector.

    Examples
    --------
    >>> offsets_of([2, 3, 4])
    [0, 2, 5]
    """
    out, total = [], 0
    for size in sizes:
        out.append(total)
        total += int(size)
    return out
