r"""First-order warm start, then self-scaled Broyden (Urbán, Stefanou & Pons 2025; Kiyani et al. 2025).

Both papers train PINNs with Adam first and switch to a (self-scaled) quasi-Newton method; the
gradient-alignment paper (Wang et al., arXiv 2502.00604) argues for SOAP as the first-order phase.
``adam-ssbroyden`` and ``soap-ssbroyden`` run the first optimizer for
``round(switch_fraction · total_steps)`` updates (or ``switch_steps``) and then SSBroyden with its zoom line search,
from a fresh state, through :func:`pinnarena.optimizers.hybrid.switch`.
"""
from __future__ import annotations

import optax

from pinnarena.optimizers import register
from pinnarena.optimizers.adam import adam
from pinnarena.optimizers.hybrid import switch, switch_step
from pinnarena.optimizers.quasi_newton import DEFAULT_MAX_PARAMS, ssbroyden
from pinnarena.search_space import IntLog, Log


@register("adam-ssbroyden", family="hybrid", line_search=True, dense=True,
          search_space={"learning_rate": Log(1e-4, 1e-2), "switch_steps": IntLog(100, 10000)})
def adam_ssbroyden(total_steps: int = 1000, switch_fraction: float = 0.5, learning_rate: float = 1e-3, *,
                   switch_steps: int = 0, max_linesearch_steps: int = 20, max_params: int = DEFAULT_MAX_PARAMS
                   ) -> optax.GradientTransformationExtraArgs:
    """Adam (``learning_rate``) for ``switch_fraction`` of the budget, then SSBroyden."""
    return switch(
        adam(learning_rate=learning_rate),
        ssbroyden(max_linesearch_steps=max_linesearch_steps, max_params=max_params),
        switch_step(total_steps, switch_fraction, switch_steps),
    )


@register("soap-ssbroyden", family="hybrid", line_search=True, dense=True,
          search_space={"learning_rate": Log(3e-4, 3e-2), "switch_steps": IntLog(100, 10000)})
def soap_ssbroyden(total_steps: int = 1000, switch_fraction: float = 0.5, learning_rate: float = 3e-3, *,
                   switch_steps: int = 0, weight_decay: float = 0.0, max_linesearch_steps: int = 20, max_params: int = DEFAULT_MAX_PARAMS
                   ) -> optax.GradientTransformationExtraArgs:
    """SOAP (``learning_rate``; ``weight_decay`` 0 as in the PINN setting of arXiv 2502.00604, other
    SOAP settings at their defaults) for ``switch_fraction`` of the budget, then SSBroyden."""
    from pinnarena.optimizers.soap import soap  # written in parallel; imported lazily on purpose

    return switch(
        soap(learning_rate=learning_rate, weight_decay=weight_decay),
        ssbroyden(max_linesearch_steps=max_linesearch_steps, max_params=max_params),
        switch_step(total_steps, switch_fraction, switch_steps),
    )
