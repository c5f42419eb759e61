"""What DP-FedAvg's secure rounds exchange: the model's weights as one vector, and a round's request.

Shared by record-level (:mod:`.secure_fedavg`) and client-level (:mod:`.client_level`)
DP-FedAvg and by DP-FedSGD (:mod:`.secure_fedsgd`) over SecAgg+.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CLIPPING_RANGE", "FEDSGD_UNIT", "FedAvgRound", "flat_weights", "load_flat", "local_model"]

#: SecAgg+'s range for the summed updates (entries in ``(-c, c)``)
CLIPPING_RANGE = 2**29
#: a round of record-level DP-FedSGD (:mod:`.secure_fedsgd`) names this unit in its request
FEDSGD_UNIT = "record-sum"


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


def load_flat(model, flat: np.ndarray) -> None:
    """Load a vector from :func:`flat_weights` back into ``model``."""
    import torch

    state, start = {}, 0
    for name, tensor in model.state_dict().items():
        size = tensor.numel()
        state[name] = torch.as_tensor(np.asarray(flat[start : start + size]), dtype=tensor.dtype).reshape(tensor.shape)
        start += size
    model.load_state_dict(state)


def local_model(features, settings, start: np.ndarray, randomness, device, x0: np.ndarray, present: np.ndarray):
    """A client's round: the diffusion model at the public weights ``start`` and the loss of
    each of its rows, ``(diffusion, record_loss)``."""
    from ..diffusion_model.gaussian_diffusion import GaussianDiffusion

    diffusion = GaussianDiffusion((), features.width, settings, device, randomness.generator("model shell"))
    load_flat(diffusion.model, start)
    return diffusion, diffusion.record_loss(x0, present, np.zeros((x0.shape[0], 0), dtype=np.int64))
