"""L-BFGS (Liu & Nocedal 1989) with optax's zoom (strong-Wolfe) line search.

The line search evaluates the objective and its gradient at each trial point; the training loop
counts those evaluations from the state's ``num_linesearch_steps`` field, so a line search costs
what it costs in ``grad_evals`` / ``fun_evals``. A step whose line search found no decrease is
rejected and the memory cleared (``pinnarena.optimizers._monotone.reject_increasing_steps``):
optax's zoom line search would otherwise take an "unsafe step" that may raise the loss.
"""
from __future__ import annotations

import optax

from pinnarena.optimizers import register
from pinnarena.optimizers._monotone import reject_increasing_steps
from pinnarena.search_space import IntLog


@register("lbfgs", family="quasi-newton", line_search=True,
          search_space={"memory_size": IntLog(5, 100), "max_linesearch_steps": IntLog(10, 40)})
def lbfgs(learning_rate=None, memory_size: int = 10, max_linesearch_steps: int = 20):
    """``optax.lbfgs`` with a zoom line search of at most ``max_linesearch_steps`` evaluations;
    steps that do not lower the loss are rejected (module docstring)."""
    return reject_increasing_steps(optax.lbfgs(
        learning_rate=learning_rate,
        memory_size=memory_size,
        linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=max_linesearch_steps),
    ))
