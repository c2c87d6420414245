r"""Per-loss low-rank adapters (Kim & N'guessan, *Per-Loss Adapters for Gradient Conflict in
Physics-Informed Neural Networks*, arXiv 2605.10136).

One LoRA adapter (Hu et al. 2021) per loss term on the shared trunk: in every adapted dense
layer ℓ, loss k uses W_ℓ + (α/r) A_{k,ℓ} B_{k,ℓ} with A ∈ R^{in×r}, B ∈ R^{r×out}, α = r, B = 0
at initialisation (so every loss starts from the trunk's function). Loss k therefore updates the
trunk and its own adapter only, which gives each loss a direct gradient pathway in its own
parameter subspace. A combining remedy acts on the loss weights as usual
(``adapters+grad-norm``): g = Σ_k w_k ∇L_k routes adapter k's gradient to adapter k alone.

Choices documented here (the paper leaves room):
* ``placement``: ``all`` hidden layers (default), ``last`` hidden layer, or ``first``;
* ``eval_adapter``: predictions use the trunk plus the adapter of the first loss term whose role
  is ``residual`` (default ``residual``: the PDE residual defines the solution in the interior),
  or ``trunk`` (no adapter), or an integer loss index;
* parameter counts in the summary include every adapter (``n_params``), and ``n_net_params``
  the trunk, so the leaderboard can show parity.
"""
from __future__ import annotations

from pinnarena.remedies import Remedy, register
from pinnarena.search_space import IntLog

PLACEMENTS = ("all", "last", "first")


@register("adapters", family="modifier",
          search_space={"rank": IntLog(1, 16)})
def adapters(rank: int = 4, placement: str = "all", eval_adapter: str = "residual") -> Remedy:
    if rank < 1:
        raise ValueError(f"adapters rank must be ≥ 1, got {rank}")
    if placement not in PLACEMENTS:
        raise ValueError(f"adapters placement {placement!r} is not one of {PLACEMENTS}")
    r = Remedy()
    r.adapters = {"rank": int(rank), "placement": placement, "eval_adapter": str(eval_adapter)}
    return r
