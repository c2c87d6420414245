r"""Incompressible Navier–Stokes flows with exact solutions (forward problems).

All flows solve the incompressible Navier–Stokes equations with unit density,

    ∂_t u + (u·∇)u + ∇p − ν Δu = 0,    ∇·u = 0,

(steady flows drop ∂_t u). Each momentum component and the continuity equation is its own loss
term, so that conflicts between them are measurable; boundary and initial data come from the
exact solution. The pressure of an incompressible flow is defined only up to a constant (up to a
function of time when unsteady), so every problem also pins the pressure on a boundary face or
at a point (the "gauge"); without it the relative L2 error against the reference would measure
an arbitrary offset.

``kovasznay-re20``, ``kovasznay-re40`` — Kovasznay (1948), *Laminar flow behind a
two-dimensional grid*, Proc. Cambridge Philos. Soc. 44, 58–62. Steady flow on
[−0.5, 1] × [−0.5, 1.5] with ν = 1/Re and λ = Re/2 − sqrt(Re²/4 + 4π²):

    u = 1 − e^{λx} cos 2πy,   v = λ/(2π) e^{λx} sin 2πy,   p = ½ (1 − e^{2λx}).

Inputs (x, y), outputs (u, v, p). K = 4: momentum-x, momentum-y, continuity, boundary
(u, v on all four sides; p on the outlet x = 1).

``taylor-green`` — decaying 2-D Taylor–Green vortex (Taylor & Green 1937, Proc. R. Soc. A 158,
499–521; the exact 2-D decaying solution is e.g. in Chorin 1968, Math. Comp. 22, 745–762):

    u = cos x sin y F,   v = −sin x cos y F,   p = −¼ (cos 2x + cos 2y) F²,   F = e^{−2νt},

on (x, y) ∈ [0, 2π]², t ∈ [0, 2], ν = 0.1. Inputs (t, x, y), outputs (u, v, p). K = 5:
momentum-x, momentum-y, continuity, initial (u, v at t = 0), boundary (periodicity of u, v, p
and of the normal derivatives of u, v across opposite sides, plus the pressure at the corner
(0, 0) for all t as the gauge).

``beltrami`` — 3-D unsteady Beltrami flow of Ethier & Steinman (1994), *Exact fully 3D
Navier–Stokes solutions for benchmarking*, Int. J. Numer. Methods Fluids 19, 369–375, eq. (2)–(3),
with a = π/4, d = π/2, ν = 1 on [−1, 1]³, t ∈ [0, 1]:

    u = −a [e^{ax} sin(ay + dz) + e^{az} cos(ax + dy)] e^{−νd²t}
    v = −a [e^{ay} sin(az + dx) + e^{ax} cos(ay + dz)] e^{−νd²t}
    w = −a [e^{az} sin(ax + dy) + e^{ay} cos(az + dx)] e^{−νd²t}
    p = −(a²/2) [e^{2ax} + e^{2ay} + e^{2az}
                 + 2 sin(ax + dy) cos(az + dx) e^{a(y+z)}
                 + 2 sin(ay + dz) cos(ax + dy) e^{a(z+x)}
                 + 2 sin(az + dx) cos(ay + dz) e^{a(x+y)}] e^{−2νd²t}.

Inputs (t, x, y, z), outputs (u, v, w, p). K = 6: momentum-x, -y, -z, continuity, initial
(u, v, w at t = 0), boundary (u, v, w on the six faces; p on the face x = 1).

The tests (tests/test_problems_ns_multiphysics.py) plug the exact fields into every residual in
float64 and check that it vanishes to round-off.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, grid, slice_at, uniform_box
from pinnarena.problems import register


# ---------------------------------------------------------------------- shared pieces
def ns_operator(u, x, nu, dim: int, unsteady: bool):
    r"""(momentum (dim,), continuity ()) of incompressible NS at one point ``x``.

    ``u`` maps a point (inputs ``(t,) + space`` if ``unsteady``, else ``space``) to
    ``(u_1 … u_dim, p, …)``; momentum_i = ∂_t u_i + Σ_j u_j ∂_j u_i + ∂_i p − ν Δu_i.
    """
    off = 1 if unsteady else 0
    space = tuple(range(off, off + dim))
    vals = u(x)
    jac = D.gradient(u, x)  # (m, d)
    grad = jac[:, off:off + dim]  # spatial derivatives (m, dim)
    vel = vals[:dim]
    lap = D.laplacian(u, x, space)[:dim]
    mom = grad[:dim] @ vel + grad[dim] - nu * lap
    if unsteady:
        mom = mom + jac[:dim, 0]
    cont = jnp.trace(grad[:dim, :dim])
    return mom, cont


def momentum_term(nu, dim, unsteady, i):
    def residual(u, p, theta):
        mom, _ = ns_operator(u, p["x"], nu, dim, unsteady)
        return mom[i:i + 1]

    return residual


def continuity_residual(nu, dim, unsteady):
    def residual(u, p, theta):
        _, cont = ns_operator(u, p["x"], nu, dim, unsteady)
        return cont[None]

    return residual


def faces_with_mask(lo, hi, dims, mask_dim: int, mask_upper: bool = True):
    r"""Points on the faces x_i ∈ {lo_i, hi_i}, i ∈ ``dims`` (equal shares, face drawn per point),
    with ``mask`` = 1.0 on the face x_{mask_dim} = hi (or lo) and 0.0 elsewhere.

    The mask is set from the drawn face index, not by comparing floats.
    """
    lo_np, hi_np = np.asarray(lo, float), np.asarray(hi, float)
    d = lo_np.shape[0]
    dims = tuple(dims)
    target = dims.index(mask_dim) * 2 + (1 if mask_upper else 0)

    def sample(key, n):
        dtype = jnp.result_type(float)
        lo_a, hi_a = jnp.asarray(lo_np, dtype), jnp.asarray(hi_np, dtype)
        k1, k2 = jax.random.split(key)
        x = lo_a + (hi_a - lo_a) * jax.random.uniform(k1, (n, d), dtype=dtype)
        face = jax.random.randint(k2, (n,), 0, 2 * len(dims))
        face_dim = jnp.asarray(dims)[face // 2]
        upper = (face % 2) == 1
        value = jnp.where(upper, hi_a[face_dim], lo_a[face_dim])
        onehot = jax.nn.one_hot(face_dim, d, dtype=bool)
        x = jnp.where(onehot, value[:, None], x)
        return {"x": x, "mask": (face == target).astype(dtype)}

    return sample


def dirichlet_with_gauge(exact, n_vel: int):
    """Boundary residual: velocity (first ``n_vel`` outputs) equal to the exact values, and the
    pressure (output ``n_vel``) equal to the exact value where ``mask`` = 1."""

    def residual(u, p, theta):
        x = p["x"]
        err = u(x) - exact(x, jnp)
        return jnp.concatenate([err[:n_vel], p["mask"] * err[n_vel:n_vel + 1]])

    return residual


def initial_residual(exact, n_vel: int):
    def residual(u, p, theta):
        x = p["x"]
        return (u(x) - exact(x, jnp))[:n_vel]

    return residual


def exact_reference(exact, lo, hi, shape, provenance):
    def reference():
        pts = grid(lo, hi, shape)
        return Reference(pts, np.asarray(exact(pts, np), dtype=float), provenance=provenance)

    return reference


# ---------------------------------------------------------------------- Kovasznay
def kovasznay_lambda(re: float) -> float:
    return re / 2.0 - np.sqrt(re**2 / 4.0 + 4.0 * np.pi**2)


def kovasznay_exact(re: float):
    """Exact Kovasznay fields (u, v, p) as a function ``f(X, xp)``, X[..., 0:2] = (x, y)."""
    lam = kovasznay_lambda(re)

    def exact(X, xp):
        x, y = X[..., 0], X[..., 1]
        e = xp.exp(lam * x)
        u = 1.0 - e * xp.cos(2 * np.pi * y)
        v = lam / (2 * np.pi) * e * xp.sin(2 * np.pi * y)
        p = 0.5 * (1.0 - xp.exp(2 * lam * x))
        return xp.stack([u, v, p], axis=-1)

    return exact


KOV_LO, KOV_HI = (-0.5, -0.5), (1.0, 1.5)


def kovasznay(name: str, re: float) -> Problem:
    nu = 1.0 / re
    exact = kovasznay_exact(re)
    box = uniform_box(KOV_LO, KOV_HI)
    return Problem(
        name=name,
        family="kovasznay",
        kind="forward",
        description=f"Kovasznay steady 2-D Navier-Stokes flow behind a grid, Re = {re:g} (exact solution)",
        input_names=("x", "y"),
        output_names=("u", "v", "p"),
        domain=(KOV_LO, KOV_HI),
        terms=(
            Term("momentum-x", box, momentum_term(nu, 2, False, 0), n=2048),
            Term("momentum-y", box, momentum_term(nu, 2, False, 1), n=2048),
            Term("continuity", box, continuity_residual(nu, 2, False), n=2048),
            Term("boundary", faces_with_mask(KOV_LO, KOV_HI, (0, 1), 0, True), dirichlet_with_gauge(exact, 2), n=1024),
        ),
        reference_fn=exact_reference(exact, KOV_LO, KOV_HI, (151, 201),
                                     {"source": "exact solution, Kovasznay (1948)", "grid": [151, 201]}),
        params={"re": float(re), "nu": nu, "lambda": float(kovasznay_lambda(re))},
        reference_kind="analytic",
    )


# ---------------------------------------------------------------------- Taylor–Green
TWO_PI = 2.0 * np.pi


def taylor_green_exact(nu: float):
    """Exact decaying Taylor–Green vortex (u, v, p); X[..., 0:3] = (t, x, y)."""

    def exact(X, xp):
        t, x, y = X[..., 0], X[..., 1], X[..., 2]
        f = xp.exp(-2.0 * nu * t)
        u = xp.cos(x) * xp.sin(y) * f
        v = -xp.sin(x) * xp.cos(y) * f
        p = -0.25 * (xp.cos(2 * x) + xp.cos(2 * y)) * f**2
        return xp.stack([u, v, p], axis=-1)

    return exact


def periodic_residual(exact, L: float):
    r"""Periodicity across opposite sides of [0, L]² for u, v, p and ∂_n u, ∂_n v, plus the gauge
    p(t, 0, 0) = p_exact(t, 0, 0). A point (t, s1, s2) is paired as (t, 0, s2) ↔ (t, L, s2) and
    (t, s1, 0) ↔ (t, s1, L)."""

    def residual(u, p, theta):
        t, s1, s2 = p["x"][0], p["x"][1], p["x"][2]
        pt = lambda a, b: jnp.stack([t, a, b])
        zero = jnp.zeros_like(t)
        Lv = zero + L

        def side(xa, xb, dim):
            va, da = D.value_and_d(u, xa, dim)
            vb, db = D.value_and_d(u, xb, dim)
            return jnp.concatenate([va - vb, (da - db)[:2]])

        rx = side(pt(zero, s2), pt(Lv, s2), 1)
        ry = side(pt(s1, zero), pt(s1, Lv), 2)
        corner = pt(zero, zero)
        gauge = (u(corner) - exact(corner, jnp))[2:3]
        return jnp.concatenate([rx, ry, gauge])

    return residual


def taylor_green(name: str = "taylor-green", nu: float = 0.1, t_end: float = 2.0) -> Problem:
    exact = taylor_green_exact(nu)
    lo, hi = (0.0, 0.0, 0.0), (t_end, TWO_PI, TWO_PI)
    box = uniform_box(lo, hi)
    return Problem(
        name=name,
        family="taylor-green",
        kind="forward",
        description=f"decaying 2-D Taylor-Green vortex, periodic [0, 2pi]^2, nu = {nu:g}, t in [0, {t_end:g}] (exact)",
        input_names=("t", "x", "y"),
        output_names=("u", "v", "p"),
        domain=(lo, hi),
        terms=(
            Term("momentum-x", box, momentum_term(nu, 2, True, 0), n=2048),
            Term("momentum-y", box, momentum_term(nu, 2, True, 1), n=2048),
            Term("continuity", box, continuity_residual(nu, 2, True), n=2048),
            Term("initial", slice_at(lo, hi, 0, 0.0), initial_residual(exact, 2), n=512),
            Term("boundary", box, periodic_residual(exact, TWO_PI), n=512),
        ),
        reference_fn=exact_reference(exact, lo, hi, (21, 65, 65),
                                     {"source": "exact solution, Taylor & Green (1937)", "grid": [21, 65, 65]}),
        params={"nu": float(nu), "t_end": float(t_end), "period": TWO_PI},
        time_dependent=True,
        reference_kind="analytic",
    )


# ---------------------------------------------------------------------- Beltrami
def beltrami_exact(a: float, dd: float, nu: float):
    """Ethier–Steinman (1994) fields (u, v, w, p); X[..., 0:4] = (t, x, y, z)."""

    def exact(X, xp):
        t, x, y, z = X[..., 0], X[..., 1], X[..., 2], X[..., 3]
        f = xp.exp(-nu * dd**2 * t)
        u = -a * (xp.exp(a * x) * xp.sin(a * y + dd * z) + xp.exp(a * z) * xp.cos(a * x + dd * y)) * f
        v = -a * (xp.exp(a * y) * xp.sin(a * z + dd * x) + xp.exp(a * x) * xp.cos(a * y + dd * z)) * f
        w = -a * (xp.exp(a * z) * xp.sin(a * x + dd * y) + xp.exp(a * y) * xp.cos(a * z + dd * x)) * f
        p = -0.5 * a**2 * (
            xp.exp(2 * a * x) + xp.exp(2 * a * y) + xp.exp(2 * a * z)
            + 2 * xp.sin(a * x + dd * y) * xp.cos(a * z + dd * x) * xp.exp(a * (y + z))
            + 2 * xp.sin(a * y + dd * z) * xp.cos(a * x + dd * y) * xp.exp(a * (z + x))
            + 2 * xp.sin(a * z + dd * x) * xp.cos(a * y + dd * z) * xp.exp(a * (x + y))
        ) * f**2
        return xp.stack([u, v, w, p], axis=-1)

    return exact


def beltrami(name: str = "beltrami", a: float = np.pi / 4, dd: float = np.pi / 2, nu: float = 1.0) -> Problem:
    exact = beltrami_exact(a, dd, nu)
    lo, hi = (0.0, -1.0, -1.0, -1.0), (1.0, 1.0, 1.0, 1.0)
    box = uniform_box(lo, hi)
    return Problem(
        name=name,
        family="beltrami",
        kind="forward",
        description="3-D unsteady Beltrami flow of Ethier & Steinman (1994) on [-1, 1]^3, t in [0, 1] (exact)",
        input_names=("t", "x", "y", "z"),
        output_names=("u", "v", "w", "p"),
        domain=(lo, hi),
        terms=(
            Term("momentum-x", box, momentum_term(nu, 3, True, 0), n=2048),
            Term("momentum-y", box, momentum_term(nu, 3, True, 1), n=2048),
            Term("momentum-z", box, momentum_term(nu, 3, True, 2), n=2048),
            Term("continuity", box, continuity_residual(nu, 3, True), n=2048),
            Term("initial", slice_at(lo, hi, 0, 0.0), initial_residual(exact, 3), n=1024),
            Term("boundary", faces_with_mask(lo, hi, (1, 2, 3), 1, True), dirichlet_with_gauge(exact, 3), n=1536),
        ),
        reference_fn=exact_reference(exact, lo, hi, (11, 21, 21, 21),
                                     {"source": "exact solution, Ethier & Steinman (1994)", "grid": [11, 21, 21, 21]}),
        params={"a": float(a), "d": float(dd), "nu": float(nu)},
        time_dependent=True,
        reference_kind="analytic",
    )


register("kovasznay-re20", functools.partial(kovasznay, "kovasznay-re20", 20.0))
register("kovasznay-re40", functools.partial(kovasznay, "kovasznay-re40", 40.0))
register("taylor-green", functools.partial(taylor_green, "taylor-green"))
register("beltrami", functools.partial(beltrami, "beltrami"))
