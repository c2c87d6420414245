r"""M-ConFIG: ConFIG applied to per-loss gradient momenta.

Liu, Chu & Thuerey, *ConFIG: Towards Conflict-free Training of Physics Informed Neural
Networks*, ICLR 2025 (arXiv 2408.11104, §3.3 and its M-ConFIG algorithm). Each loss keeps its own
first moment, updated only when that loss's gradient is used, with its own step count t_i:

    m_i ← β₁ m_i + (1 − β₁) g_i,   t_i ← t_i + 1,   m̂_i = m_i / (1 − β₁^{t_i}),
    g_c = ConFIG(m̂_1, …, m̂_K),

and, in the paper, an Adam-like second moment of g_c: v ← β₂ v + (1 − β₂) g_c², update
g_c / (√(v / (1 − β₂^t)) + ε). In the paper one loss (cyclically) is back-propagated per step and the
other momenta are reused, which is where its speed comes from.

Here:

* ``cycle=True`` (default, the paper): at step t only the momentum of loss t mod K is updated.
  The loop of this suite still forms every g_i at every step (``refresh_every = 1``), so the
  saving is not realised yet; ``cycle=False`` updates every momentum at every step instead.
* ``second_moment=False`` (default): the returned direction is g_c and the scaling by the second
  moment is left to the optimizer (pair with ``adam`` for the paper's normalised step, or set
  ``second_moment=True`` and use plain ``sgd`` to reproduce the paper's update literally).
* Losses never visited yet have m̂_i = 0 and drop out of the ConFIG solve.

The momenta are K × n, so ``init`` needs the parameter count: ``init(num_losses, num_params=n)``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from pinnarena.remedies import Remedy, register
from pinnarena.remedies.config import config_direction
from pinnarena.search_space import Linear


class MConFIG(Remedy):
    refresh_every = 1

    def __init__(self, beta1: float, beta2: float, eps: float, cycle: bool, second_moment: bool):
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"m-config {name} must be in [0, 1), got {b}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.cycle, self.second_moment = bool(cycle), bool(second_moment)

    def init(self, num_losses: int, num_params: int | None = None):
        if num_params is None:
            raise ValueError(
                "m-config keeps one gradient momentum per loss term (K × n arrays): call "
                "init(num_losses, num_params=n) with n the number of trainable parameters"
            )
        z = jnp.zeros((num_losses, int(num_params)))
        return {"m": z, "v": jnp.zeros((int(num_params),)), "counts": jnp.zeros((num_losses,), jnp.int32),
                "step": jnp.zeros((), jnp.int32)}

    def weights(self, state):
        return None

    def update(self, G, losses, state):
        K = G.shape[0]
        dt = state["m"].dtype
        step = state["step"]
        sel = (jnp.arange(K) == step % K) if self.cycle else jnp.ones((K,), bool)
        m = jnp.where(sel[:, None], self.beta1 * state["m"] + (1.0 - self.beta1) * G.astype(dt), state["m"])
        counts = state["counts"] + sel.astype(jnp.int32)
        corr = 1.0 - self.beta1 ** counts.astype(dt)
        m_hat = jnp.where((counts > 0)[:, None], m / jnp.where(counts > 0, corr, 1.0)[:, None], 0.0)
        g = config_direction(m_hat)
        v = state["v"]
        if self.second_moment:
            v = self.beta2 * v + (1.0 - self.beta2) * g * g
            v_hat = v / (1.0 - self.beta2 ** (step + 1).astype(dt))
            g = g / (jnp.sqrt(v_hat) + self.eps)
        new = {"m": m, "v": v.astype(dt), "counts": counts, "step": step + 1}
        return g.astype(G.dtype), new


@register("m-config", family="surgery",
          search_space={"beta1": Linear(0.8, 0.99), "beta2": Linear(0.99, 0.9999)})
def m_config(beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, cycle: bool = True,
             second_moment: bool = False) -> Remedy:
    return MConFIG(beta1, beta2, eps, cycle, second_moment)
