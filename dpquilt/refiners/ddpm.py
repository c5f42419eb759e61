"""DDPM refiner: where inside its bin each numeric value lies, learned with DP-SGD.

A conditional DDPM (Ho et al. 2020) over the within-bin positions ``u`` of the
numeric columns, mapped to ``x_0 = 2u - 1``, conditioned on embeddings of every
column's code. Sampling conditions on the *synthetic* record's codes and keeps each
value inside its sampled bin, so the graphical model's marginals are kept exactly.
Training is DP-SGD (:mod:`.dpsgd`) with DPDM's noise multiplicity (Dockhorn et al.,
"Differentially Private Diffusion Models", TMLR 2023, sec. 3.2): each record's loss
averages ``K`` draws of ``(t, eps)`` before its gradient is clipped, which lowers the
gradient's variance at no privacy cost.
"""

from __future__ import annotations

import numpy as np

from ..diffusion_model.gaussian_diffusion import DDPMSettings, GaussianDiffusion
from ..dpsgd.device import resolve_device
from ..dpsgd.training import DPSGDSettings, dpsgd_noise_note, torch_generator
from ..privacy.accountant import Accountant
from ..privacy.randomness import Randomness
from .layout import Layout
from .uniform import uniform_positions

__all__ = ["DDPMSettings", "DDPMRefiner"]


class DDPMRefiner:
    """A DP-SGD conditional DDPM of within-bin positions.

    Parameters
    ----------
    settings : DDPMSettings, optional

    Attributes
    ----------
    plan_ : DPSGDPlan
        Noise multiplier, sample rate and steps actually used.
    losses_ : list of float
        Per-step training loss (un-noised; for the curator's diagnostics only).

    Examples
    --------
    >>> from dpquilt.privacy import Accountant
    >>> from dpquilt.schema import NumericColumn, Schema
    >>> lay = Layout.of(Schema([NumericColumn("x", lower=0, upper=1, bins=2)]))
    >>> fast = DDPMSettings(hidden=16, diffusion_steps=10, training=DPSGDSettings(batch_size=50, epochs=1))
    >>> ref = DDPMRefiner(fast).fit(lay, np.zeros((200, 1), int), np.full((200, 1), 0.25),
    ...     Accountant(1.0, 1e-6), "cpu", public_rows=200, randomness=Randomness.of(0))  # doctest: +SKIP
    >>> from dpquilt.schema.dataset import Dataset
    >>> ref.sample(Dataset({"x": np.zeros(3, int)}, {"x": 3}), np.random.default_rng(0))["x"].shape  # doctest: +SKIP
    (3,)
    """

    name = "ddpm"

    def __init__(self, settings: DDPMSettings | None = None) -> None:
        self.settings = settings

    def fit(
        self,
        layout: Layout,
        codes: np.ndarray,
        targets: np.ndarray,
        accountant: Accountant,
        device: str = "auto",
        *,
        public_rows: float,
        randomness: Randomness | None = None,
        progress: bool = False,
        **_: object,
    ) -> DDPMRefiner:
        """Train on private ``codes`` ``(n, columns)`` and ``targets`` ``(n, learned)`` (NaN = missing).

        Spends all that is left of ``accountant`` on DP-SGD (the noise multiplier is
        solved for). ``public_rows`` is a released or public record count; ``randomness``
        the fit's (:class:`~dpquilt.privacy.randomness.Randomness`; default secure). Other
        keywords (what other refiners use, such as ``noise`` or ``bin_shares``) are ignored.
        """
        settings = self.settings or DDPMSettings()
        codes = np.asarray(codes, dtype=np.int64)
        targets = np.asarray(targets, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != len(layout.columns):
            raise ValueError(f"codes must be (rows, {len(layout.columns)}), got {codes.shape}")
        if targets.shape != (codes.shape[0], len(layout.learned)):
            raise ValueError(f"targets must be (rows, {len(layout.learned)}), got {targets.shape}")
        self.layout_ = layout
        self.progress_ = progress
        self.device_ = resolve_device(device) if isinstance(device, str) else device
        randomness = Randomness.of(None) if randomness is None else randomness
        init = randomness.generator("refiner: DDPM initial weights")
        self.diffusion_ = GaussianDiffusion(layout.sizes, len(layout.learned), settings, self.device_, init)
        present = ~np.isnan(targets)
        self.plan_, self.losses_ = self.diffusion_.fit_private(
            2.0 * np.nan_to_num(targets) - 1.0,
            present,
            codes,
            accountant,
            public_rows,
            "refiner: DDPM within-bin positions (DP-SGD)",
            randomness,
            progress,
        )
        self.notes_ = (f"refiner: {dpsgd_noise_note(not randomness.secure)}",)
        return self

    def sample(self, data, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Positions for the numeric columns of records with codes ``data`` (a Dataset; post-processing).

        Learned columns come from the reverse diffusion (Ho et al. 2020, Algorithm 2);
        columns without room inside their bins are drawn uniformly.
        """
        layout = self.layout_
        by_column = layout.numeric_codes(data)
        missing = layout.missing_by_column
        out = uniform_positions({n: by_column[n] for n in layout.numeric if n not in layout.learned}, missing, rng)
        if not layout.learned:
            return {n: out[n] for n in layout.numeric}
        generator = torch_generator(rng, self.device_)
        x = self.diffusion_.sample(layout.codes_of(data), generator, progress=self.progress_)
        u = np.clip((x + 1.0) / 2.0, 0.0, np.nextafter(1.0, 0.0))
        for j, name in enumerate(layout.learned):
            col = u[:, j].astype(np.float64)
            if missing[name] is not None:
                col[by_column[name] == missing[name]] = np.nan
            out[name] = col
        return {n: out[n] for n in layout.numeric}
