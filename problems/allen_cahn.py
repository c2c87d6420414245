r"""Allen–Cahn equation with periodic boundary conditions (arXiv 2502.00604 benchmark).

    u_t − ε u_xx + 5u³ − 5u = 0,  x ∈ [−1, 1], t ∈ [0, 1],  u(x, 0) = x² cos(πx),  periodic,
    ε = 1e-4 (canonical ``allen-cahn``) or 1e-3 (``allen-cahn-eps1e-3``).

Inputs (t, x); K = 3 loss terms: residual, initial, periodic (u and u_x at x = −1 and x = 1).
The reference is a Fourier pseudo-spectral ETDRK4 solve (problems/solvers/etdrk4.py) with L =
−εk² + 5 and N = −5u³; its provenance records the self-convergence error. The stationary kink
u = tanh(x/√(2ε/5)) is an exact solution of the residual (used by the tests).
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem
from pinnarena.problems import register
from pinnarena.problems._periodic import spectral_reference, periodic_1d_problem
from pinnarena.problems.solvers.etdrk4 import periodic_grid, wavenumbers

LO, HI = (0.0, -1.0), (1.0, 1.0)

TIERS = {
    "smoke": {"n": 512, "dt": 2e-3, "n_save": 51, "stride": 2},
    "standard": {"n": 1024, "dt": 5e-4, "n_save": 201, "stride": 2},
    "paper": {"n": 2048, "dt": 1e-4, "n_save": 201, "stride": 4},
}


def setup(n: int, eps: float):
    x = periodic_grid(-1.0, 1.0, n)
    k = wavenumbers(n, 2.0)
    u0 = (x**2 * np.cos(np.pi * x))[None, :]
    L = (-eps * k**2 + 5.0)[None, :]
    return u0, L, lambda u, t: u**3, -5.0


def allen_cahn(name: str = "allen-cahn", eps: float = 1e-4) -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        _, u_t = D.value_and_d(u, x, 0)
        v, _, v_xx = D.taylor(u, x, 1, 2)
        return u_t - eps * v_xx + 5.0 * v**3 - 5.0 * v

    def initial(u, p, theta):
        x = p["x"]
        return u(x) - x[1:2] ** 2 * jnp.cos(jnp.pi * x[1:2])

    def reference(tier: str = "standard"):
        return spectral_reference(tier=tier, tiers=TIERS, setup=lambda n: setup(n, eps), lo=(-1.0,), hi=(1.0,),
                                  t_final=1.0, equation=f"u_t = {eps:g} u_xx + 5u - 5u^3, u0 = x^2 cos(pi x)")

    return periodic_1d_problem(
        name=name, family="allen-cahn", lo=LO, hi=HI,
        description=f"1-D Allen-Cahn, eps = {eps:g}, u0 = x^2 cos(pi x), periodic: sharp metastable interfaces",
        residual=residual, initial=initial, order=1, reference_fn=reference,
        params={"eps": float(eps), "reaction": 5.0}, reference_kind="etdrk4-spectral",
    )


register("allen-cahn", functools.partial(allen_cahn, "allen-cahn", 1e-4))
register("allen-cahn-eps1e-3", functools.partial(allen_cahn, "allen-cahn-eps1e-3", 1e-3))
