r"""Complex Ginzburg–Landau equation in 2-D (arXiv 2502.00604 benchmark).

    A_t = εΔA + kA − k(1 + 1.5i) A|A|²,  ε = 0.004, k = 10,  (x, y) ∈ [−1, 1]², t ∈ [0, 1],
    A₀ = (10ix + 10y) exp(−25(x² + y²)),  periodic.

With A = u + iv the residual has the two real components
    u_t − εΔu − ku + k(u − 1.5v)(u² + v²),   v_t − εΔv − kv + k(1.5u + v)(u² + v²).
Inputs (t, x, y), outputs (u, v); K = 3 loss terms: residual, initial, periodic. The reference
is a complex 2-D Fourier pseudo-spectral ETDRK4 solve (L = −ε|k|² + k, N = −k(1 + 1.5i)A|A|²).
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Term, slice_at, uniform_box
from pinnarena.problems import register
from pinnarena.problems._periodic import periodic_term, spectral_reference
from pinnarena.problems.solvers.etdrk4 import periodic_grid, wavenumbers

LO, HI = (0.0, -1.0, -1.0), (1.0, 1.0, 1.0)
EPS, KAPPA, BETA = 0.004, 10.0, 1.5

TIERS = {
    "smoke": {"n": 128, "dt": 5e-3, "n_save": 11, "stride": 4},
    "standard": {"n": 256, "dt": 2.5e-3, "n_save": 41, "stride": 4},
    "paper": {"n": 256, "dt": 1e-3, "n_save": 101, "stride": 4},
}


def initial_field(x, y, lib=np):
    g = 10.0 * lib.exp(-25.0 * (x**2 + y**2))
    return y * g, x * g  # real and imaginary parts of (10ix + 10y) exp(−25 r²)


def setup(n: int):
    g = periodic_grid(-1.0, 1.0, n)
    X, Y = np.meshgrid(g, g, indexing="ij")
    k = wavenumbers(n, 2.0)
    L = (-EPS * (k[:, None] ** 2 + k[None, :] ** 2) + KAPPA)[None]
    re, im = initial_field(X, Y)
    return (re + 1j * im)[None], L, lambda A, t: A * (A.real**2 + A.imag**2), -KAPPA * (1.0 + BETA * 1j)


def ginzburg_landau(name: str = "ginzburg-landau") -> Problem:
    def residual(u, pt, theta):
        x = pt["x"]
        w_t = D.d(u, x, 0)
        lap = D.laplacian(u, x, dims=(1, 2))
        a, b = u(x)
        m = a * a + b * b
        return jnp.stack([
            w_t[0] - EPS * lap[0] - KAPPA * a + KAPPA * (a - BETA * b) * m,
            w_t[1] - EPS * lap[1] - KAPPA * b + KAPPA * (BETA * a + b) * m,
        ])

    def initial(u, pt, theta):
        x = pt["x"]
        return u(x) - jnp.stack(initial_field(x[1], x[2], jnp))

    def reference(tier: str = "standard"):
        return spectral_reference(tier=tier, tiers=TIERS, setup=setup, lo=(-1.0, -1.0), hi=(1.0, 1.0), t_final=1.0,
                                  real=False, complex_output=True,
                                  equation="A_t = 0.004 Lap A + 10 A - 10 (1 + 1.5 i) A |A|^2")

    return Problem(
        name=name,
        family="ginzburg-landau",
        kind="forward",
        description="2-D complex Ginzburg-Landau (eps = 0.004, k = 10), outputs Re A and Im A, periodic",
        input_names=("t", "x", "y"),
        output_names=("u", "v"),
        domain=(LO, HI),
        terms=(
            Term("residual", uniform_box(LO, HI), residual, n=4096),
            Term("initial", slice_at(LO, HI, 0, 0.0), initial, n=512),
            periodic_term(LO, HI, (1, 2), order=1, n=512),
        ),
        reference_fn=reference,
        params={"eps": EPS, "k": KAPPA, "beta": BETA},
        time_dependent=True,
        reference_kind="etdrk4-spectral",
    )


register("ginzburg-landau", functools.partial(ginzburg_landau, "ginzburg-landau"))
