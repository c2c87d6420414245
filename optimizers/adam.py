"""Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), straight from optax."""
from __future__ import annotations

import optax

from pinnarena.optimizers import register
from pinnarena.search_space import Linear, Log


@register("adam", family="first-order",
          search_space={"learning_rate": Log(1e-4, 3e-2), "b1": Linear(0.8, 0.95)})
def adam(learning_rate=1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """Adam (arXiv 1412.6980) as ``optax.adam``."""
    return optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)


@register("adamw", family="first-order",
          search_space={"learning_rate": Log(1e-4, 3e-2), "weight_decay": Log(1e-6, 1e-2)})
def adamw(learning_rate=1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, weight_decay: float = 1e-4):
    """AdamW, decoupled weight decay (arXiv 1711.05101), as ``optax.adamw``."""
    return optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
