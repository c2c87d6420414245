r"""Poisson's equation with a manufactured solution on the unit square.

    −Δu = f on [0, 1]²,  u = 0 on the boundary,
    u = sin(kπx) sin(kπy),  f = 2k²π² sin(kπx) sin(kπy).

Higher k means higher frequency (spectral bias makes it harder). K = 2 loss terms: residual,
boundary. Variants ``poisson-2d-k{k}``.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, box_faces, grid, uniform_box
from pinnarena.problems import register

LO, HI = (0.0, 0.0), (1.0, 1.0)


def poisson_2d(name: str, k: int) -> Problem:
    kp = k * np.pi

    def residual(u, p, theta):
        x = p["x"]
        f = 2.0 * kp**2 * jnp.sin(kp * x[0]) * jnp.sin(kp * x[1])
        return D.laplacian(u, x) + f

    def boundary(u, p, theta):
        return u(p["x"])

    def reference():
        pts = grid(LO, HI, (101, 101))
        vals = np.sin(kp * pts[:, 0]) * np.sin(kp * pts[:, 1])
        return Reference(pts, vals[:, None], provenance="manufactured solution")

    return Problem(
        name=name,
        family="poisson",
        kind="forward",
        description=f"2-D Poisson, manufactured u = sin({k} pi x) sin({k} pi y), Dirichlet",
        input_names=("x", "y"),
        output_names=("u",),
        domain=(LO, HI),
        terms=(
            Term("residual", uniform_box(LO, HI), residual, n=2048),
            Term("boundary", box_faces(LO, HI), boundary, n=512),
        ),
        reference_fn=reference,
        params={"k": int(k)},
        reference_kind="manufactured",
    )


for _k in (1, 2, 4, 8):
    register(f"poisson-2d-k{_k}", functools.partial(poisson_2d, f"poisson-2d-k{_k}", _k))
