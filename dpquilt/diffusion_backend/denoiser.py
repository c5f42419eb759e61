"""The conditional noise-prediction network, built from layers Opacus ghost-clips.

Inputs are a record's codes (one embedding per column, all in one shared table with
per-column offsets, as TabDDPM and FinDiff embed categorical columns), and ``K`` noisy
copies of its targets with their step features (DPDM's noise multiplicity: ``K``
``(t, eps)`` draws per record share one per-record gradient). Only ``nn.Embedding``
and ``nn.Linear`` hold parameters, so Opacus computes per-record gradient norms
without materialising per-record gradients ("ghost clipping", Li et al., ICLR 2022).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ConditionalDenoiser"]


class ConditionalDenoiser(nn.Module):
    """``eps_theta(x_t, t | codes)``: an MLP on noisy targets, step features and a code embedding.

    Parameters
    ----------
    n_codes : int
        Total codes over all conditioning columns (the embedding table's rows).
    n_columns : int
        Conditioning columns per record.
    n_targets : int
        Dimensions of ``x`` (0 conditioning columns is allowed: ``n_columns=0``).
    time_dim : int
        Width of the step features.
    hidden : int
        Width of the hidden layers.
    depth : int
        Hidden layers after the input layer.
    embedding_dim : int
        Width of each column's embedding.
    generator : torch.Generator, optional
        Source of the initial weights (else PyTorch's default initialisation).

    Examples
    --------
    >>> net = ConditionalDenoiser(n_codes=5, n_columns=2, n_targets=3, time_dim=8, hidden=16, depth=1, embedding_dim=4)
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
        embedding_dim: int,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_columns = n_columns
        self.embedding = nn.Embedding(max(n_codes, 1), embedding_dim) if n_columns else None
        self.condition = nn.Linear(n_columns * embedding_dim, hidden) if n_columns else None
        self.inputs = nn.Linear(n_targets + time_dim, hidden)
        self.hidden = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.output = nn.Linear(hidden, n_targets)
        self.act = nn.SiLU()
        if generator is not None:
            self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """PyTorch's default initialisation, drawn from ``generator`` (no global seed)."""
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    bound = 1.0 / math.sqrt(module.in_features) if module.in_features else 0.0
                    module.weight.uniform_(-bound, bound, generator=generator)
                    module.bias.uniform_(-bound, bound, generator=generator)
                elif isinstance(module, nn.Embedding):
                    module.weight.normal_(0.0, 1.0, generator=generator)

    def forward(self, x_t: torch.Tensor, t_features: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Predicted noise, shape ``(B, K, n_targets)``.

        Parameters
        ----------
        x_t : (B, K, n_targets) noisy targets
        t_features : (B, K, time_dim) step features
        codes : (B, n_columns) codes already shifted by their column's offset
        """
        h = self.inputs(torch.cat([x_t, t_features], dim=-1))
        if self.embedding is not None:
            e = self.embedding(codes).reshape(codes.shape[0], -1)
            h = h + self.condition(e).unsqueeze(1)
        h = self.act(h)
        for layer in self.hidden:
            h = self.act(layer(h))
        return self.output(h)


def offsets_of(sizes: Sequence[int]) -> list[int]:
    """Row of each column's first code in the shared embedding table."""
    out, total = [], 0
    for size in sizes:
        out.append(total)
        total += int(size)
    return out
