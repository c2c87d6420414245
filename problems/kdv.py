r"""Korteweg–de Vries equation, Zabusky & Kruskal (1965) setting (arXiv 2502.00604 benchmark).

    u_t + u u_x + δ² u_xxx = 0,  δ = 0.022,  x ∈ [−1, 1], t ∈ [0, 1],  u(x, 0) = cos(πx), periodic.

Inputs (t, x); K = 3 loss terms: residual, initial, periodic (u, u_x, u_xx at x = ±1).
The reference is a Fourier pseudo-spectral ETDRK4 solve (L = iδ²k³, N = −(ik/2) F[u²]); the
solitary wave u = 3c sech²(√c (x − ct − x₀)/(2δ)) solves the residual exactly (used by tests). The
provenance's ``cross_check`` records the measured difference to an independent method-of-lines
solve (problems/solvers/mol.py).
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
DELTA = 0.022

TIERS = {
    "smoke": {"n": 256, "dt": 2.5e-4, "n_save": 51, "stride": 1},
    "standard": {"n": 512, "dt": 5e-5, "n_save": 201, "stride": 1},
    "paper": {"n": 1024, "dt": 2e-5, "n_save": 201, "stride": 2},
}

# Independent cross-check of the references at their own points, measured once by
# tests/test_reference_crosscheck.py against problems/solvers/mol.py (Fourier collocation, no
# dealiasing, Radau IIA with the exact Jacobian) and recorded here (not recomputed at run time).
CROSS_CHECK = {
    "smoke": "cross-checked against Fourier-MOL n = 512, Radau IIA (solve_ivp rtol 1e-10): "
             "max |du| = 2.2e-6 (8.5e-7 of max |u|), rel L2 3.5e-7",
    "standard": "cross-checked against Fourier-MOL n = 512, Radau IIA (solve_ivp rtol 1e-10): "
                "max |du| = 6.9e-11 (2.6e-11 of max |u|), rel L2 1.1e-11",
    "paper": "not cross-checked",
}


def setup(n: int, delta: float = DELTA, u0=None):
    x = periodic_grid(-1.0, 1.0, n)
    k = wavenumbers(n, 2.0)
    u0 = np.cos(np.pi * x) if u0 is None else u0(x)
    L = 1j * delta**2 * k**3
    return u0[None, :], L[None, :], lambda u, t: u**2, -0.5j * k[None, :]


def soliton(t, x, c, x0, delta=DELTA, lib=np):
    """Exact solitary wave of u_t + u u_x + δ² u_xxx = 0 on the line."""
    return 3.0 * c / lib.cosh(lib.sqrt(c) * (x - c * t - x0) / (2.0 * delta)) ** 2


def kdv(name: str = "kdv", delta: float = DELTA) -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        _, u_t = D.value_and_d(u, x, 0)
        v, v_x, _, v_xxx = D.taylor(u, x, 1, 3)
        return u_t + v * v_x + delta**2 * v_xxx

    def initial(u, p, theta):
        x = p["x"]
        return u(x) - jnp.cos(jnp.pi * x[1:2])

    def reference(tier: str = "standard"):
        ref = spectral_reference(tier=tier, tiers=TIERS, setup=lambda n: setup(n, delta), lo=(-1.0,), hi=(1.0,),
                                 t_final=1.0, equation=f"u_t + u u_x + {delta:g}^2 u_xxx = 0, u0 = cos(pi x)")
        ref.provenance["cross_check"] = CROSS_CHECK[tier] if delta == DELTA else "not cross-checked"
        return ref

    return periodic_1d_problem(
        name=name, family="kdv", lo=LO, hi=HI,
        description=f"1-D Korteweg-de Vries (Zabusky-Kruskal), delta = {delta:g}, u0 = cos(pi x), periodic: soliton train",
        residual=residual, initial=initial, order=2, reference_fn=reference,
        params={"delta": float(delta)}, reference_kind="etdrk4-spectral",
    )


register("kdv", functools.partial(kdv, "kdv"))
