r"""ReLoBRaLo: relative loss balancing with random lookback.

Bischof & Kraus, *Multi-Objective Loss Balancing for Physics-Informed Deep Learning*,
arXiv 2110.09813 (2021; CMAME 439, 2025). With K loss terms, temperature T, exponential decay α
and a Bernoulli "saudade" variable ρ with expectation E[ρ] (``rho``), at step t:

    λ_i^bal(t, t') = K · exp(L_i(t) / (T L_i(t'))) / Σ_j exp(L_j(t) / (T L_j(t'))),
    λ_i^hist(t)    = ρ λ_i(t−1) + (1 − ρ) λ_i^bal(t, 0),
    λ_i(t)         = α λ_i^hist(t) + (1 − α) λ_i^bal(t, t−1),

starting from λ(0) = 1 (so the weights sum to K). ρ = 1 (keep the history) with probability
E[ρ]; ρ = 0 looks back to the losses of the first step. Here a small ``eps`` is added to the
denominators T L_i(t'), and the softmax is evaluated with the maximum subtracted (the same value,
without overflow). g = Σ_i λ_i(t) ∇L_i.

The weights depend on the losses only (``loss_only``): the training loop takes L from the forward
pass, calls ``loss_weights`` and forms g = Σ_i λ_i ∇L_i as one vector–Jacobian product, so the
remedy costs one gradient of the weighted sum, not K per-loss gradients; ``update(G, …)`` gives
the same g from a gradient matrix. The weights must evolve, so ``refresh_every`` must be ≥ 1 (with
0 the loop would never refresh them): with N > 1 they are updated every N steps, "t − 1" then
meaning the previous refresh, and held in between.

Randomness: ρ is drawn from ``fold_in(PRNGKey(seed), count)`` with ``count`` (the number of
updates so far) kept in the state, so runs are reproducible and vmapped seeds stay independent
when ``seed`` differs. The defaults (α = 0.999, T = 0.1, E[ρ] = 0.999) lie in the ranges of the
paper's hyper-parameter study.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from pinnarena.remedies import LossWeighting, Remedy, register
from pinnarena.search_space import Linear, Log


class ReLoBRaLo(LossWeighting):  # weights from the losses alone: the loop takes one VJP
    def __init__(self, alpha: float, temperature: float, rho: float, seed: int, refresh_every: int, eps: float):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"relobralo alpha must be in [0, 1], got {alpha}")
        if not temperature > 0.0:
            raise ValueError(f"relobralo temperature must be > 0, got {temperature}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"relobralo rho (the expected value of the Bernoulli lookback) must be in [0, 1], got {rho}")
        if int(refresh_every) < 1:
            raise ValueError(f"relobralo refresh_every must be ≥ 1 (its weights evolve with the losses), got {refresh_every}")
        self.alpha, self.temperature, self.rho = float(alpha), float(temperature), float(rho)
        self.seed, self.refresh_every, self.eps = int(seed), int(refresh_every), float(eps)

    def init(self, num_losses: int):
        one = jnp.ones((num_losses,))
        return {"weights": one, "loss0": one, "loss_prev": one, "count": jnp.zeros((), jnp.int32)}

    def balance(self, L, L_ref):
        """λ^bal(t, t'): K · softmax(L(t) / (T L(t') + eps))."""
        K = L.shape[0]
        return K * jax.nn.softmax(L / (self.temperature * L_ref + self.eps))

    def lookback(self, count):
        """The Bernoulli draw ρ ∈ {0, 1} of update number ``count``."""
        key = jax.random.fold_in(jax.random.PRNGKey(self.seed), count)
        return jax.random.bernoulli(key, self.rho)

    def loss_weights(self, losses, state):
        """λ(t) from the losses alone (the training loop then needs one VJP, not K gradients)."""
        dt = state["weights"].dtype
        L = jnp.asarray(losses).astype(dt)
        first = state["count"] == 0
        L0 = jnp.where(first, L, state["loss0"])
        Lp = jnp.where(first, L, state["loss_prev"])
        rho = self.lookback(state["count"]).astype(dt)
        hist = rho * state["weights"] + (1.0 - rho) * self.balance(L, L0)
        w = self.alpha * hist + (1.0 - self.alpha) * self.balance(L, Lp)
        new = {"weights": w.astype(dt), "loss0": L0, "loss_prev": L, "count": state["count"] + 1}
        return new["weights"], new


@register("relobralo", family="weighting",
          search_space={"temperature": Log(0.01, 1.0), "rho": Linear(0.9, 0.9999)})
def relobralo(alpha: float = 0.999, temperature: float = 0.1, rho: float = 0.999, seed: int = 0,
              refresh_every: int = 1, eps: float = 1e-12) -> Remedy:
    return ReLoBRaLo(alpha, temperature, rho, seed, refresh_every, eps)
