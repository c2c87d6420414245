r"""Kuramoto–Sivashinsky equation (arXiv 2502.00604 benchmark; Kassam & Trefethen 2005 setting).

    u_t + α u u_x + β u_xx + γ u_xxxx = 0,  α = 100/16, β = 100/16², γ = 100/16⁴,
    x ∈ [0, 2π], t ∈ [0, 1],  u(x, 0) = cos x (1 + sin x),  periodic.

With X = 16x, τ = 100t this is v_τ + v v_X + v_XX + v_XXXX = 0 on [0, 32π], τ ∈ [0, 100]: the
classical chaotic KS run of Kassam & Trefethen. Inputs (t, x); K = 3 loss terms: residual,
initial, periodic (u and its first three x-derivatives at x = 0 and 2π). The reference is a
Fourier pseudo-spectral ETDRK4 solve (L = βk² − γk⁴, N = −α(ik/2) F[u²]). The travelling-front
solution of Kuramoto & Tsuzuki (1976) / Conte & Musette (1989) solves the residual exactly
(tests).
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

LO, HI = (0.0, 0.0), (1.0, 2.0 * np.pi)
ALPHA, BETA, GAMMA = 100.0 / 16, 100.0 / 16**2, 100.0 / 16**4

TIERS = {
    "smoke": {"n": 256, "dt": 1e-3, "n_save": 51, "stride": 2},
    "standard": {"n": 512, "dt": 2.5e-4, "n_save": 201, "stride": 2},
    "paper": {"n": 1024, "dt": 1e-4, "n_save": 201, "stride": 4},
}


def setup(n: int):
    x = periodic_grid(0.0, 2.0 * np.pi, n)
    k = wavenumbers(n, 2.0 * np.pi)
    u0 = np.cos(x) * (1.0 + np.sin(x))
    L = BETA * k**2 - GAMMA * k**4
    return u0[None, :], L[None, :], lambda u, t: u**2, -0.5j * ALPHA * k[None, :]


def ks(name: str = "ks") -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        _, u_t = D.value_and_d(u, x, 0)
        v, v_x, v_xx, _, v_xxxx = D.taylor(u, x, 1, 4)
        return u_t + ALPHA * v * v_x + BETA * v_xx + GAMMA * v_xxxx

    def initial(u, p, theta):
        x = p["x"][1:2]
        return u(p["x"]) - jnp.cos(x) * (1.0 + jnp.sin(x))

    def reference(tier: str = "standard"):
        return spectral_reference(tier=tier, tiers=TIERS, setup=setup, lo=(0.0,), hi=(2.0 * np.pi,), t_final=1.0,
                                  equation="u_t + 100/16 u u_x + 100/16^2 u_xx + 100/16^4 u_xxxx = 0, u0 = cos x (1 + sin x)")

    return periodic_1d_problem(
        name=name, family="ks", lo=LO, hi=HI,
        description="1-D Kuramoto-Sivashinsky on [0, 2 pi] (32 pi rescaled), u0 = cos x (1 + sin x), periodic: chaotic",
        residual=residual, initial=initial, order=3, reference_fn=reference,
        params={"alpha": ALPHA, "beta": BETA, "gamma": GAMMA}, reference_kind="etdrk4-spectral",
    )


register("ks", functools.partial(ks, "ks"))
