r"""Causal weighting for time-dependent problems (Wang, Sankaran & Perdikaris, *Respecting
causality is all you need for training physics-informed neural networks*, arXiv 2203.07404,
CMAME 2024).

The residual points are split by time into M equal chunks t ∈ [t_0 + i·T/M, t_0 + (i+1)·T/M).
With L_i the mean squared residual of chunk i, the residual loss becomes

    L_r = (1/M) Σ_i w_i L_i,   w_i = exp(−ε Σ_{k<i} L_k)   (w_i held constant: stop-gradient),

so later times only count once earlier times are resolved. Applied by the training loop to
every loss term whose role is ``residual`` when the problem is time-dependent (the first input
is t). ``causal`` is a modifier: it composes with one combining remedy (``causal+grad-norm``);
alone it keeps unit loss weights. The smallest chunk weight min_i w_i is logged as
``causal_weight_min``.
"""
from __future__ import annotations

from pinnarena.remedies import Remedy, register
from pinnarena.search_space import Log


@register("causal", family="modifier",
          search_space={"eps": Log(0.1, 100.0)})
def causal(eps: float = 1.0, chunks: int = 16) -> Remedy:
    if eps < 0 or chunks < 1:
        raise ValueError(f"causal needs eps ≥ 0 and chunks ≥ 1, got eps={eps}, chunks={chunks}")
    r = Remedy()
    r.causal = {"eps": float(eps), "chunks": int(chunks)}
    return r
