"""What DP-FedAvg's secure rounds exchange: the model's weights as one vector, and a round's request.

Shared by record-level (:mod:`.secure_fedavg`) and client-level (:mod:`.client_level`)
DP-FedAvg and by DP-FedSGD (:mod:`.secure_fedsgd`) over SecAgg+.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["CLIPPING_RANGE", "FEDSGD_UNIT", "FedAvgRound", "RoundedSums", "check_number", "round_sigma", "shared_reply", "state_slices", "flat_weights", "load_flat", "local_model"]

#: SecAgg+'s range for the summed updates (entries in ``(-c, c)``)
CLIPPING_RANGE = 2**29
#: a round of record-level DP-FedSGD (:mod:`.secure_fedsgd`) names this unit in its request
FEDSGD_UNIT = "record-sum"


class RoundedSums:
    """What settings of a sum of clipped vectors rounded to ``r = clip_norm / 2^bits`` share
    (a mixin of frozen dataclasses with ``clip_norm`` and ``bits``): the unit, the
    sensitivities and the wire form.

    Rounding with uniform offsets drawn without reading the rows moves each coordinate a
    clipped change touches by less than one unit, so a change of L2 norm ``clip_norm``
    moves the rounded vector by at most ``Delta_2 = 2^bits + sqrt(d)`` units in L2 and
    ``Delta_1 = sqrt(d) 2^bits + d`` in L1 over ``d`` coordinates.

    Examples
    --------
    >>> from dpquilt.federation.client_level import ClientLevelSettings
    >>> s = ClientLevelSettings(clip_norm=0.5, bits=10)
    >>> s.resolution == 0.5 / 2**10, s.sensitivities(10_000)
    (True, (1124.0, 112400.0))
    >>> ClientLevelSettings.from_wire(s.to_wire()) == s
    True
    """

    clip_norm: float
    bits: int

    @property
    def resolution(self) -> float:
        """``r = clip_norm / 2^bits``: the value of one unit of the summed integers."""
        return float(self.clip_norm) / 2.0**self.bits

    def sensitivities(self, dimension: int) -> tuple[float, float]:
        """``(Delta_2, Delta_1)`` of the summed integer vector when one unit of privacy comes or goes."""
        root = math.sqrt(dimension)
        return 2.0**self.bits + root, root * 2.0**self.bits + dimension

    def to_wire(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)  # type: ignore[call-overload]

    @classmethod
    def from_wire(cls, text: str):
        return cls(**json.loads(text))


def round_sigma(rho: float, honest_shares: int, settings: RoundedSums, dimension: int) -> float:
    """The total noise scale ``sigma`` (rounding units) of one round's sum that costs ``rho``:
    the distributed discrete Gaussian with ``settings``' sensitivities over ``dimension``
    coordinates (Kairouz, Liu and Steinke, ICML 2021, Theorem 2).

    Examples
    --------
    >>> from dpquilt.federation.client_level import ClientLevelSettings
    >>> sigma = round_sigma(0.01, 3, ClientLevelSettings(bits=10), 100)
    >>> bool(abs(sigma - (2**10 + 10) / math.sqrt(2 * 0.01)) < 1e-6 * sigma)  # shares far above 1: the central Gaussian's
    True
    """
    from ..privacy.distributed import sigma_for_distributed_rho

    l2, l1 = settings.sensitivities(dimension)
    return sigma_for_distributed_rho(rho, honest_shares, l2, l1, dimension)


def shared_reply(rounded: np.ndarray, share_sigma: float, seed: int | None, client: int, round_: int,
                 coarser: str) -> np.ndarray:
    """A client's reply to a round whose noise the clients add in shares: its rounded vector
    plus a discrete Gaussian share ``N_Z(0, share_sigma^2)`` on every coordinate (OpenDP's
    sampler, or seeded from ``(seed, client, round)``: not for release), then its seeded
    flag and the check entry ``1``. Refuses a sum that would leave the secure sum's range,
    naming the setting to lower (``coarser``).

    Examples
    --------
    >>> reply = shared_reply(np.array([5, -3]), 2.0, seed=1, client=0, round_=1, coarser="bits")
    >>> reply.shape, reply[-2:].tolist()  # two noisy entries, then the seeded flag and the check entry
    ((4,), [1.0, 1.0])
    """
    from ..privacy.noise import SecureNoise, SeededNoise

    noise = SecureNoise() if seed is None else SeededNoise(np.random.default_rng([seed, client, round_, zlib.crc32(b"share")]))
    shared = noise.discrete_gaussian(np.asarray(rounded, dtype=np.int64), share_sigma)
    if np.abs(shared).max() >= CLIPPING_RANGE:
        raise ValueError(f"a noisy reply does not fit the secure sum's range; lower {coarser}")
    return np.concatenate([shared, [int(seed is not None), 1]]).astype(np.float64)


def check_number(owner: str, name: str, value: object, integer: bool = False,
                 low: float = 0.0, high: float = math.inf) -> None:
    """Refuse a setting that is not a finite number in ``(low, high]`` (an integer in
    ``[low, high]`` with ``integer``), naming the owner, the setting and the value.

    Examples
    --------
    >>> check_number("FedSGDSettings", "bits", 40, integer=True, low=4, high=20)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: FedSGDSettings: bits must be an integer in [4, 20], got 40
    """
    if integer:
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and low <= value <= high):
            raise ValueError(f"{owner}: {name} must be an integer in [{low:g}, {high:g}], got {value!r}")
    elif not (isinstance(value, (int, float)) and not isinstance(value, bool) and low < value <= high
              and math.isfinite(value)):
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class FedAvgRound:
    """One round's request to the clients through :class:`~.secure_sum.SecureSum` (public: weights and settings)."""

    label: str
    round: int
    weights: np.ndarray = field(repr=False)
    config: Mapping[str, object] = field(default_factory=dict)

    def to_wire(self) -> tuple[dict, list[np.ndarray]]:
        return {**self.config, "dpquilt.kind": "fedavg", "dpquilt.label": self.label, "dpquilt.round": self.round}, [
            np.asarray(self.weights, dtype=np.float32)
        ]


def flat_weights(model) -> np.ndarray:
    """The model's parameters in one float32 vector (state-dict order)."""
    return np.concatenate([t.detach().cpu().numpy().ravel() for t in model.state_dict().values()]).astype(np.float32)


def state_slices(model) -> dict[str, slice]:
    """Where each state-dict entry lies in :func:`flat_weights`' vector.

    Examples
    --------
    >>> import torch
    >>> state_slices(torch.nn.Linear(3, 2))
    {'weight': slice(0, 6, None), 'bias': slice(6, 8, None)}
    """
    out, start = {}, 0
    for name, tensor in model.state_dict().items():
        out[name] = slice(start, start + tensor.numel())
        start += tensor.numel()
    return out


def load_flat(model, flat: np.ndarray) -> None:
    """Load a vector from :func:`flat_weights` back into ``model``."""
    import torch

    state = model.state_dict()
    model.load_state_dict({name: torch.as_tensor(np.asarray(flat[where]), dtype=state[name].dtype).reshape(state[name].shape)
                           for name, where in state_slices(model).items()})


def local_model(features, settings, start: np.ndarray, randomness, device, x0: np.ndarray, present: np.ndarray):
    """A client's round: the diffusion model at the public weights ``start`` and the loss of
    each of its rows, ``(diffusion, record_loss)``."""
    from ..diffusion_model.gaussian_diffusion import GaussianDiffusion

    diffusion = GaussianDiffusion((), features.width, settings, device, randomness.generator("model shell"))
    load_flat(diffusion.model, start)
    return diffusion, diffusion.record_loss(x0, present, np.zeros((x0.shape[0], 0), dtype=np.int64))
