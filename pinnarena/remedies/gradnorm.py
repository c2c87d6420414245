r"""GradNorm: learnable loss weights that balance the gradient norms' training rates.

Chen, Badrinarayanan, Lee & Rabinovich, *GradNorm: Gradient Normalization for Adaptive Loss
Balancing in Deep Multitask Networks*, ICML 2018 (arXiv 1711.02257). With weights w_i(t)
(w(0) = 1), per-loss gradients g_i, the relative inverse training rates

    L̃_i(t) = L_i(t) / L_i(0),      r_i(t) = L̃_i(t) / mean_j L̃_j(t),

and G_W^(i) = ‖w_i g_i‖, Ḡ_W = mean_i G_W^(i), the weights follow the gradient of

    L_grad(w) = Σ_i | G_W^(i) − Ḡ_W · r_i^α |,

with the target Ḡ_W · r_i^α held constant (as in the paper): ∂L_grad/∂w_i =
sign(w_i‖g_i‖ − Ḡ_W r_i^α) ‖g_i‖. After each step the weights are renormalised to Σ_i w_i = K.

Choices made here (stated because they differ from the paper's multitask setting):

* **W is all parameters.** The paper measures G_W^(i) on the last shared layer W to save cost;
  a PINN has no task heads, and the loop already holds the full per-loss gradients, so the rows of G
  (gradients with respect to every parameter) take the place of that layer.
* **The weight optimizer is Adam** (β = 0.9, 0.999, ε = 1e-8, step ``lr``). The paper trains w with
  the network's optimizer; Adam makes the step size independent of the scale of ‖g_i‖, which spans
  orders of magnitude in PINNs. Weights are floored at ``min_weight`` before the renormalisation
  (the paper does not say what to do with a weight pushed below zero).
* **Order of updates:** the returned direction uses the weights after this step's update,
  g = Σ_i w_i(t+1) g_i, so that g is the gradient of the objective Σ w_i L_i that the loop reports
  (and hands to line searches) with ``weights(state)``; the paper's network step uses w(t).

L_i(0) is the loss vector at the first call of ``update``. ``refresh_every`` = N ≥ 1 refreshes the
weights every N steps (the paper: every step).
"""
from __future__ import annotations

import jax.numpy as jnp

from pinnarena.remedies import Remedy, register
from pinnarena.search_space import Linear, Log

_B1, _B2, _ADAM_EPS = 0.9, 0.999, 1e-8


class GradNormWeights(Remedy):
    def __init__(self, alpha: float, lr: float, refresh_every: int, min_weight: float, eps: float):
        if int(refresh_every) < 1:
            raise ValueError(f"gradnorm refresh_every must be ≥ 1, got {refresh_every}")
        if not lr > 0:
            raise ValueError(f"gradnorm lr must be > 0, got {lr}")
        if not 0 < min_weight < 1:
            raise ValueError(f"gradnorm min_weight must be in (0, 1), got {min_weight}")
        self.alpha, self.lr, self.refresh_every = float(alpha), float(lr), int(refresh_every)
        self.min_weight, self.eps = float(min_weight), float(eps)

    def init(self, num_losses: int):
        z = jnp.zeros((num_losses,))
        return {"weights": jnp.ones((num_losses,)), "loss0": jnp.ones((num_losses,)), "m": z, "v": z,
                "count": jnp.zeros((), jnp.int32)}

    def update(self, G, losses, state):
        dt = state["weights"].dtype
        K = G.shape[0]
        L = jnp.asarray(losses).astype(dt)
        L0 = jnp.where(state["count"] == 0, L, state["loss0"])
        w = state["weights"]
        norms = jnp.linalg.norm(G, axis=1).astype(dt)
        gw = w * norms                                   # G_W^(i) = ‖w_i g_i‖
        ratio = L / (L0 + self.eps)                      # L̃_i
        r = ratio / (jnp.mean(ratio) + self.eps)         # r_i
        target = jnp.mean(gw) * r**self.alpha            # constant in the paper
        grad = jnp.sign(gw - target) * norms             # ∂L_grad/∂w_i
        t = (state["count"] + 1).astype(dt)
        m = _B1 * state["m"] + (1 - _B1) * grad
        v = _B2 * state["v"] + (1 - _B2) * grad**2
        step = self.lr * (m / (1 - _B1**t)) / (jnp.sqrt(v / (1 - _B2**t)) + _ADAM_EPS)
        w_new = jnp.maximum(w - step, self.min_weight)
        w_new = (K * w_new / jnp.sum(w_new)).astype(dt)
        new = {"weights": w_new, "loss0": L0, "m": m.astype(dt), "v": v.astype(dt), "count": state["count"] + 1}
        return w_new.astype(G.dtype) @ G, new


@register("gradnorm", family="weighting",
          search_space={"alpha": Linear(0.5, 3.0), "lr": Log(1e-3, 1e-1)})
def gradnorm(alpha: float = 1.5, lr: float = 0.025, refresh_every: int = 1, min_weight: float = 1e-3,
             eps: float = 1e-12) -> Remedy:
    return GradNormWeights(alpha, lr, refresh_every, min_weight, eps)
