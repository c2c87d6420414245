r"""Linear advection (convection) with periodic boundary conditions: a failure mode of PINNs
(Krishnapriyan, Gholami, Zhe, Kirby, Mahoney, NeurIPS 2021, "Characterizing possible failure
modes in physics-informed neural networks", section 3.1).

    u_t + β u_x = 0,  x ∈ [0, 2π], t ∈ [0, 1],  u(x, 0) = sin x,  periodic,
    exact u = sin(x − βt);  β ∈ {10, 30, 50} (``advection-beta{β}``).

Inputs (t, x); K = 3 loss terms: residual, initial, periodic (u and u_x at x = 0 and 2π).
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, grid
from pinnarena.problems import register
from pinnarena.problems._periodic import periodic_1d_problem

LO, HI = (0.0, 0.0), (1.0, 2.0 * np.pi)


def exact(t, x, beta, lib=np):
    return lib.sin(x - beta * t)


def advection(name: str, beta: float) -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        return D.d(u, x, 0) + beta * D.d(u, x, 1)

    def initial(u, p, theta):
        x = p["x"]
        return u(x) - jnp.sin(x[1:2])

    def reference():
        pts = grid(LO, HI, (101, 256))
        return Reference(pts, exact(pts[:, 0], pts[:, 1], beta)[:, None], provenance="exact solution sin(x - beta t)")

    return periodic_1d_problem(
        name=name, family="advection", lo=LO, hi=HI,
        description=f"1-D linear advection, beta = {beta:g}, u0 = sin x, periodic (Krishnapriyan et al. 2021 failure mode)",
        residual=residual, initial=initial, order=1, reference_fn=reference,
        params={"beta": float(beta)}, reference_kind="analytic",
    )


for _b in (10, 30, 50):
    register(f"advection-beta{_b}", functools.partial(advection, f"advection-beta{_b}", float(_b)))
