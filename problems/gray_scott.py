r"""Gray–Scott reaction–diffusion system in 2-D (arXiv 2502.00604 benchmark).

    u_t = ε₁Δu + b₁(1 − u) − c₁uv²,   v_t = ε₂Δv − b₂v + c₂uv²,
    ε₁ = 0.2, ε₂ = 0.1, b₁ = 40, b₂ = 100, c₁ = c₂ = 1000,  (x, y) ∈ [−1, 1]², t ∈ [0, 2], periodic,
    u₀ = 1 − exp(−10((x + 0.05)² + (y + 0.02)²)),  v₀ = exp(−10((x − 0.05)² + (y − 0.02)²)).

Inputs (t, x, y), outputs (u, v); K = 3 loss terms: residual (2 components), initial, periodic
(values and first derivatives on opposite faces). The reference is a 2-D Fourier pseudo-spectral
ETDRK4 solve with the diffusion and the linear reaction terms in L (L_u = −ε₁|k|² − b₁,
L_v = −ε₂|k|² − b₂) and N = (b₁ − c₁uv², c₂uv²). The initial data are periodic only up to
e^{−10}·O(1) ≈ 5e-5 at the faces, below the reference's stated error.
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

LO, HI = (0.0, -1.0, -1.0), (2.0, 1.0, 1.0)
P = {"eps1": 0.2, "eps2": 0.1, "b1": 40.0, "b2": 100.0, "c1": 1000.0, "c2": 1000.0}

TIERS = {
    # explicit treatment of c·uv² (c = 1000) limits dt; the coarse run keeps dt where 2 dt is unstable
    "smoke": {"n": 128, "dt": 4e-3, "coarse_dt": 4e-3, "n_save": 11, "stride": 4},
    "standard": {"n": 256, "dt": 2e-3, "coarse_dt": 4e-3, "n_save": 41, "stride": 4},
    "paper": {"n": 256, "dt": 1e-3, "n_save": 101, "stride": 4},
}


def initial_fields(x, y, lib=np):
    u0 = 1.0 - lib.exp(-10.0 * ((x + 0.05) ** 2 + (y + 0.02) ** 2))
    v0 = lib.exp(-10.0 * ((x - 0.05) ** 2 + (y - 0.02) ** 2))
    return u0, v0


def setup(n: int, p=P):
    g = periodic_grid(-1.0, 1.0, n)
    X, Y = np.meshgrid(g, g, indexing="ij")
    k = wavenumbers(n, 2.0)
    K2 = k[:, None] ** 2 + k[None, :] ** 2
    L = np.stack([-p["eps1"] * K2 - p["b1"], -p["eps2"] * K2 - p["b2"]])

    def nonlinear(f, t):
        uvv = f[0] * f[1] * f[1]
        return np.stack([p["b1"] - p["c1"] * uvv, p["c2"] * uvv])

    return np.stack(initial_fields(X, Y)), L, nonlinear, 1.0


def gray_scott(name: str = "gray-scott", p=P) -> Problem:
    def residual(u, pt, theta):
        x = pt["x"]
        w_t = D.d(u, x, 0)
        lap = D.laplacian(u, x, dims=(1, 2))
        a, b = u(x)
        uvv = a * b * b
        return jnp.stack([
            w_t[0] - p["eps1"] * lap[0] - p["b1"] * (1.0 - a) + p["c1"] * uvv,
            w_t[1] - p["eps2"] * lap[1] + p["b2"] * b - p["c2"] * uvv,
        ])

    def initial(u, pt, theta):
        x = pt["x"]
        return u(x) - jnp.stack(initial_fields(x[1], x[2], jnp))

    def reference(tier: str = "standard"):
        return spectral_reference(tier=tier, tiers=TIERS, setup=setup, lo=(-1.0, -1.0), hi=(1.0, 1.0), t_final=2.0,
                                  equation="Gray-Scott, eps1=0.2, eps2=0.1, b1=40, b2=100, c1=c2=1000")

    return Problem(
        name=name,
        family="gray-scott",
        kind="forward",
        description="2-D Gray-Scott reaction-diffusion (two species), periodic, t in [0, 2]",
        input_names=("t", "x", "y"),
        output_names=("u", "v"),
        domain=(LO, HI),
        terms=(
            Term("residual", uniform_box(LO, HI), residual, n=4096),
            Term("initial", slice_at(LO, HI, 0, 0.0), initial, n=512),
            periodic_term(LO, HI, (1, 2), order=1, n=512),
        ),
        reference_fn=reference,
        params=dict(p),
        time_dependent=True,
        reference_kind="etdrk4-spectral",
    )


register("gray-scott", functools.partial(gray_scott, "gray-scott"))
