"""A SiloFuse-style baseline: per-silo autoencoders and a latent diffusion model at the coordinator.

SiloFuse (Shankar et al., "SiloFuse: Cross-silo Synthetic Data Generation with Latent
Tabular Diffusion Models", ICDE 2024) trains an autoencoder in each silo, sends every
person's latent vector to a coordinator, and trains a diffusion model on the
concatenated latents; samples are decoded by each silo's decoder. It has no formal
privacy guarantee. This baseline keeps its shape and trains with DP-SGD wherever it
touches private data:

1. each silo learns its columns' missing schema facts with DP (:mod:`.silo_schema`);
2. each silo trains its autoencoder (one-hot codes in, a ``tanh`` latent of
   ``latent_dim`` numbers, one softmax per column out; cross-entropy) with DP-SGD on
   ``autoencoder_share`` of the budget, split evenly over the silos;
3. the coordinator trains an unconditional Gaussian diffusion model on the concatenated
   latents with DP-SGD on what is left;
4. sampling draws latents, and each silo's decoder turns its part into codes (a draw from
   each column's softmax), decoded by the schema.

The released table and models are DP (the accountant composes every step), but the
coordinator receives every person's latent vectors, which the encoders compute from the
rows without noise: **it is not private against the coordinator**, unlike
:func:`~dpquilt.federation.vertical.simulate`. The privacy report says so, and it is not
among ``compare()``'s default methods. It runs in one process (a simulation of the
silos), for comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...diffusion_model.gaussian_diffusion import DDPMSettings, GaussianDiffusion
from ...dpsgd.training import DPSGDSettings, plan_dpsgd, torch_generator, train_dpsgd
from ...privacy.accountant import Accountant
from ...privacy.randomness import Randomness
from ...schema import Schema
from ...schema.codec import decode, encode
from ...schema.dataset import Dataset
from ...synthesizers.base import Synthesizer, check_fitted
from .estimators import ROW_KEY, split_columns
from .silo_schema import SchemaPlan, assemble_schema, learn_silo_schema, own_hint, public_facts

__all__ = ["SiloAutoencoder", "SiloFuseSynthesizer"]

#: the privacy report's line on what the baseline does not protect
COORDINATOR_NOTE = (
    "SiloFuse-style baseline: the coordinator receives every person's latent vectors (computed by the silos' "
    "encoders without noise): not private against the coordinator; the released table and models are DP"
)


class SiloFuseSynthesizer(Synthesizer):
    """Per-silo DP autoencoders and a DP latent diffusion model (see the module docstring).

    Parameters
    ----------
    silos : sequence of sequences of str
        The columns each silo holds.
    epsilon, delta : float
        The whole fit's budget.
    schema : Schema or dict, optional
        Public facts of some or all columns; the rest each silo learns with DP.
    schema_share : float
        Budget share for that learning.
    autoencoder_share : float
        Share of what is left for the silos' autoencoders (split evenly); the diffusion
        model gets the rest.
    latent_dim, hidden : int
        Each silo's latent width and its autoencoder's hidden width.
    autoencoder : DPSGDSettings, optional
        The autoencoders' DP-SGD settings (default: batch 512, 10 epochs, learning rate 3e-3).
    diffusion : DDPMSettings, optional
        The latent diffusion model and its DP-SGD settings.
    device : str
        ``"cpu"`` or ``"cuda"``.
    random_state : int or None
        ``None``: secure noise; an int seeds the fit (not for release).
    verbose : bool
        Progress bars.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"a": rng.choice(["x", "y"], 400), "b": rng.choice(["u", "v", "w"], 400)})
    >>> fast = DDPMSettings(hidden=16, diffusion_steps=10, training=DPSGDSettings(batch_size=100, epochs=2))
    >>> syn = SiloFuseSynthesizer([["a"], ["b"]], epsilon=3.0, latent_dim=2, hidden=16, diffusion=fast,
    ...                           autoencoder=DPSGDSettings(batch_size=100, epochs=2), random_state=0).fit(df)
    >>> list(syn.sample(5).columns), "not private against the coordinator" in str(syn.privacy_report())
    (['a', 'b'], True)
    """

    _fitted_attribute = "diffusion_"

    def __init__(
        self,
        silos: Sequence[Sequence[str]] = (),
        epsilon: float = 1.0,
        delta: float = 1e-9,
        schema: Schema | Mapping[str, Any] | None = None,
        schema_share: float = 0.1,
        autoencoder_share: float = 0.5,
        latent_dim: int = 8,
        hidden: int = 128,
        autoencoder: DPSGDSettings | None = None,
        diffusion: DDPMSettings | None = None,
        device: str = "cpu",
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.silos = silos
        self.epsilon = epsilon
        self.delta = delta
        self.schema = schema
        self.schema_share = schema_share
        self.autoencoder_share = autoencoder_share
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.autoencoder = autoencoder
        self.diffusion = diffusion
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def check_params(self) -> None:
        if not 0.0 < self.autoencoder_share < 1.0:
            raise ValueError(f"autoencoder_share must lie in (0, 1), got {self.autoencoder_share!r}")
        if not 0.0 <= self.schema_share < 1.0:
            raise ValueError(f"schema_share must lie in [0, 1), got {self.schema_share!r}")
        for name in ("latent_dim", "hidden"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def fit(self, df: pd.DataFrame) -> SiloFuseSynthesizer:
        """Fit on ``df`` split by columns into the silos (rows lined up by row number: a public key list)."""
        self.check_params()
        parts = {name: part.drop(columns=[ROW_KEY]) for name, part in split_columns(df, self.silos).items()}
        randomness = Randomness.of(self.random_state)
        accountant = Accountant(self.epsilon, self.delta, secure=randomness.secure)
        rows = len(df)  # the aligned key list's length: public
        schema = self._learn_schema(parts, accountant, randomness)
        codes = {name: encode(part, schema.select(list(part.columns))).data for name, part in parts.items()}
        settings = self.autoencoder or DPSGDSettings(batch_size=512, epochs=10.0, learning_rate=3e-3)
        budget = accountant.remaining_rho() * self.autoencoder_share / len(parts)
        self.autoencoders_ = {}
        latents = []
        for name, data in codes.items():
            net = SiloAutoencoder(data.domain, self.latent_dim, self.hidden, randomness.generator(f"autoencoder {name}"))
            onehot = torch.as_tensor(_one_hot(data), dtype=torch.float32)
            plan = plan_dpsgd(settings, rows, accountant, reserve_rho=accountant.remaining_rho() - budget)
            train_dpsgd(net, net.record_loss(onehot, data), rows, plan, settings, accountant,
                        f"autoencoder of silo {name!r}", randomness, "cpu", self.verbose)
            self.autoencoders_[name] = net
            with torch.no_grad():
                latents.append(net.encode(onehot).numpy().astype(np.float64))  # sent to the coordinator
        z = np.concatenate(latents, axis=1)
        ddpm = self.diffusion or DDPMSettings()
        self.diffusion_model_ = GaussianDiffusion([], z.shape[1], ddpm, self.device, randomness.generator("latent diffusion init"))
        self.diffusion_model_.fit_private(z, np.ones_like(z, dtype=bool), np.zeros((rows, 0), dtype=np.int64), accountant,
                                          rows, "latent diffusion at the coordinator", randomness, self.verbose)
        self.schema_, self.columns_, self.rows_ = schema, list(df.columns), rows
        self.accountant_, self.notes_ = accountant, (COORDINATOR_NOTE,)
        self.diffusion_ = True
        return self

    def _learn_schema(self, parts: Mapping[str, pd.DataFrame], accountant: Accountant, randomness: Randomness) -> Schema:
        hint = public_facts(self.schema)
        plan = SchemaPlan(self.epsilon, self.delta, self.schema_share, len(parts))
        names = [c for part in parts.values() for c in part.columns]
        learned = [learn_silo_schema(part, own_hint(hint, list(part.columns)), plan, len(names), randomness.noise)
                   for part in parts.values()]
        schema, ledger, _ = assemble_schema(names, learned)
        for expenditure in ledger:
            accountant.spend(expenditure)
        return schema

    def sample(self, n_samples: int | None = None, random_state=None) -> pd.DataFrame:
        """Draw latents, decode each silo's part with its decoder (post-processing)."""
        check_fitted(self, "diffusion_", "sample")
        n = self.rows_ if n_samples is None else int(n_samples)
        rng = np.random.default_rng(random_state)
        z = self.diffusion_model_.sample(np.zeros((n, 0), dtype=np.int64), torch_generator(rng, self.device))
        columns, start = {}, 0
        for name, net in self.autoencoders_.items():
            with torch.no_grad():
                logits = net.decode(torch.as_tensor(z[:, start : start + self.latent_dim], dtype=torch.float32)).numpy()
            start += self.latent_dim
            for column, block in net.blocks(logits):
                p = np.exp(block - block.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                columns[column] = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, block.shape[1] - 1)
        data = Dataset(columns, self.schema_.domain())
        return decode(data, self.schema_, rng)[self.columns_]


def _one_hot(data: Dataset) -> np.ndarray:
    blocks = [np.eye(size, dtype=np.float32)[np.asarray(data.columns[c], dtype=np.int64)] for c, size in data.domain.items()]
    return np.concatenate(blocks, axis=1)


class SiloAutoencoder(nn.Module):
    """One silo's autoencoder of its one-hot codes: ``Linear-ReLU-Linear-tanh`` in, ``Linear-ReLU-Linear`` out.

    Parameters
    ----------
    domain : dict of str to int
        The silo's columns and their code counts.
    latent, hidden : int
        Latent and hidden widths.
    init : numpy.random.Generator
        The initial weights' randomness.

    Examples
    --------
    >>> net = SiloAutoencoder({"a": 2, "b": 3}, latent=2, hidden=8, init=np.random.default_rng(0))
    >>> tuple(net(torch.zeros(4, 5)).shape), [c for c, _ in net.blocks(np.zeros((1, 5)))]
    ((4, 5), ['a', 'b'])
    """

    def __init__(self, domain: Mapping[str, int], latent: int, hidden: int, init: np.random.Generator) -> None:
        super().__init__()
        width = int(sum(domain.values()))
        self.sizes = dict(domain)
        self.enc1, self.enc2 = nn.Linear(width, hidden), nn.Linear(hidden, latent)
        self.dec1, self.dec2 = nn.Linear(latent, hidden), nn.Linear(hidden, width)
        generator = torch_generator(init, "cpu")
        with torch.no_grad():
            for layer in (self.enc1, self.enc2, self.dec1, self.dec2):
                bound = 1.0 / np.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latents in ``[-1, 1]`` (the range the diffusion model works in)."""
        return torch.tanh(self.enc2(torch.relu(self.enc1(x))))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of every column's codes, side by side."""
        return self.dec2(torch.relu(self.dec1(z)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def blocks(self, logits):
        """``(column, its logits)`` for each column, in order."""
        start = 0
        for column, size in self.sizes.items():
            yield column, logits[:, start : start + size]
            start += size

    def record_loss(self, onehot: torch.Tensor, data: Dataset):
        """``loss(module, rows, generator) -> (B,)``: each record's summed cross-entropy (for DP-SGD)."""
        targets = {c: torch.as_tensor(np.asarray(data.columns[c], dtype=np.int64)) for c in self.sizes}

        def loss(module, rows, generator):  # noqa: ARG001 (the loss draws no randomness)
            idx = torch.as_tensor(rows)
            logits = module(onehot[idx])
            total = torch.zeros(idx.numel())
            for column, block in module.blocks(logits):
                total = total + nn.functional.cross_entropy(block, targets[column][idx], reduction="none")
            return total

        return loss
