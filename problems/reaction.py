r"""Logistic reaction (Fisher-type, no diffusion): a failure mode of PINNs (Krishnapriyan et al.,
NeurIPS 2021, section 3.2).

    u_t − ρ u(1 − u) = 0,  x ∈ [0, 2π], t ∈ [0, 1],  u(x, 0) = h(x) = exp(−(x − π)²/(2(π/4)²)),
    periodic; exact u = h e^{ρt} / (h e^{ρt} + 1 − h);  ρ ∈ {5, 10} (``reaction-rho{ρ}``).

Inputs (t, x); K = 3 loss terms: residual, initial, periodic (values only, as in the paper: the
exact solution's x-derivative is not periodic, u_x(t, 0) = −u_x(t, 2π) ≠ 0).
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


def initial_profile(x, lib=np):
    return lib.exp(-((x - np.pi) ** 2) / (2.0 * (np.pi / 4.0) ** 2))


def exact(t, x, rho, lib=np):
    h = initial_profile(x, lib)
    g = h * lib.exp(rho * t)
    return g / (g + 1.0 - h)


def reaction(name: str, rho: float) -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        v, v_t = D.value_and_d(u, x, 0)
        return v_t - rho * v * (1.0 - v)

    def initial(u, p, theta):
        x = p["x"]
        return u(x) - initial_profile(x[1:2], jnp)

    def reference():
        pts = grid(LO, HI, (101, 256))
        return Reference(pts, exact(pts[:, 0], pts[:, 1], rho)[:, None], provenance="exact solution of the logistic ODE")

    return periodic_1d_problem(
        name=name, family="reaction", lo=LO, hi=HI,
        description=f"1-D logistic reaction u_t = rho u (1 - u), rho = {rho:g}, Gaussian u0, periodic (Krishnapriyan et al. 2021)",
        residual=residual, initial=initial, order=0, reference_fn=reference,
        params={"rho": float(rho)}, reference_kind="analytic",
    )


for _r in (5, 10):
    register(f"reaction-rho{_r}", functools.partial(reaction, f"reaction-rho{_r}", float(_r)))
