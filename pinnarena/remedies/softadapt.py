r"""SoftAdapt: loss weights from the softmax of the losses' recent rates of change.

Heydari, Thompson & Mehmood, *SoftAdapt: Techniques for Adaptive Loss Weighting of Neural
Networks with Multi-Part Loss Functions*, arXiv 1912.12355 (2019). With s_i the rate of change of
loss i (here the first-order difference between consecutive updates, s_i = L_i(t) − L_i(t−1))
and β the "focus" parameter:

* SoftAdapt:                α_i = exp(β s_i) / Σ_j exp(β s_j);
* normalised slopes (``normalize=True``): s_i ← s_i / (Σ_j |s_j| + eps) before the softmax;
* loss-weighted (``loss_weighted=True``): α_i = L_i exp(β s_i) / Σ_j L_j exp(β s_j).

β > 0 puts weight on the losses that decrease slowest (or grow). The weights sum to one, as in the
paper (so g = Σ_i α_i ∇L_i has about 1/K of the size of the unweighted sum); the softmax is
evaluated with the maximum subtracted and L_i enters as log(L_i + eps). At the first update there
is no previous loss: s = 0 and the weights are uniform (loss-proportional when loss-weighted).

The weights depend on the losses only (``loss_only``): the training loop forms g = Σ_i α_i ∇L_i as
one vector–Jacobian product of the loss vector, not K per-loss gradients; ``update(G, …)`` gives
the same g from a gradient matrix. The weights must evolve, so ``refresh_every`` must be ≥ 1; with
N > 1 the slope is taken between consecutive refreshes and the weights are held in between.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from pinnarena.remedies import LossWeighting, Remedy, register
from pinnarena.search_space import Log


class SoftAdapt(LossWeighting):  # weights from the losses alone: the loop takes one VJP
    def __init__(self, beta: float, normalize: bool, loss_weighted: bool, refresh_every: int, eps: float):
        if int(refresh_every) < 1:
            raise ValueError(f"softadapt refresh_every must be ≥ 1 (its weights evolve with the losses), got {refresh_every}")
        self.beta, self.normalize, self.loss_weighted = float(beta), bool(normalize), bool(loss_weighted)
        self.refresh_every, self.eps = int(refresh_every), float(eps)

    def init(self, num_losses: int):
        return {"weights": jnp.full((num_losses,), 1.0 / num_losses), "loss_prev": jnp.zeros((num_losses,)),
                "count": jnp.zeros((), jnp.int32)}

    def weights_from(self, L, L_prev):
        s = L - L_prev
        if self.normalize:
            s = s / (jnp.sum(jnp.abs(s)) + self.eps)
        logits = self.beta * s
        if self.loss_weighted:
            logits = logits + jnp.log(jnp.maximum(L, 0.0) + self.eps)
        return jax.nn.softmax(logits)

    def loss_weights(self, losses, state):
        """α(t) from the losses alone (the training loop then needs one VJP, not K gradients)."""
        dt = state["weights"].dtype
        L = jnp.asarray(losses).astype(dt)
        L_prev = jnp.where(state["count"] == 0, L, state["loss_prev"])
        w = self.weights_from(L, L_prev).astype(dt)
        return w, {"weights": w, "loss_prev": L, "count": state["count"] + 1}


@register("softadapt", family="weighting",
          search_space={"beta": Log(0.01, 1.0)})
def softadapt(beta: float = 0.1, normalize: bool = False, loss_weighted: bool = False, refresh_every: int = 1,
              eps: float = 1e-8) -> Remedy:
    return SoftAdapt(beta, normalize, loss_weighted, refresh_every, eps)
