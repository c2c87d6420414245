r"""Inverse problems: recover PDE parameters (scalars or a coefficient field) from data.

Every problem has K = 3 loss terms: ``residual`` (the PDE with the trainable unknowns), ``boundary``
(boundary and initial conditions in one term) and ``data`` (observations of u at interior points,
``resample=False``). The data term draws its points and its noise from the key it is given, which
the training loop derives from the run seed, so the data change with the seed and are fixed during
a run. Noise is Gaussian with standard deviation ``noise × std(u over the drawn points)``.

* ``burgers-inv``: Burgers (ν = 0.01/π, u0 = −sin πx) with unknown ν (initial guess 0.01); data
  drawn from 5000 Cole–Hopf values on a 50 × 100 (t, x) grid (t ∈ [0.02, 1], x interior);
  ``burgers-inv-noise1`` adds 1 % noise (Raissi, Perdikaris, Karniadakis 2019, sec. 4.1.1).
* ``heat-inv``: u_t = κΔu on [0, 1]², u = e^{−2π²κt} sin πx sin πy, unknown κ (truth 0.05, guess 0.1).
* ``wave-inv``: u_tt = c²u_xx of the ``wave`` benchmark, unknown c (truth 2, guess 1).
* ``poisson-inv``: −∇·(a∇u) = f on [0, 1]² with u = sin πx sin πy and the unknown coefficient
  field a = 1/(1 + x² + y² + (x − 1)² + (y − 1)²) (PINNacle's PInv, Hao et al. 2024), represented
  by a second small network a(x) = softplus(MLP(x)) (2 → 20 → 20 → 1, tanh) whose weights live in
  ``unknowns`` (arrays ``a_w0`` … ``a_b2``, fixed Glorot initialisation with a ≈ 1). The boundary
  term imposes u = 0 and the known boundary values of a; ``unknowns_metrics`` reports the field's
  relative L2 error on a 51 × 51 grid (``a_rel_l2``).

``heat-inv-noise1``, ``wave-inv-noise1``, ``poisson-inv-noise1``: the same with 1 % noise.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, box_faces, grid, slice_at, uniform_box
from pinnarena.problems import register
from pinnarena.problems.solvers.cole_hopf import burgers_sine


# ------------------------------------------------------------------------------ shared terms
def boundary_initial_sampler(lo, hi, space_dims, target):
    """Half the points on the spatial faces, half at t = lo[0]; ``target(x)`` gives u there.

    Returns {"x", "target" (n, 1), "initial" (n, 1) = 1 for initial points, 0 for boundary}.
    """
    faces = box_faces(lo, hi, dims=space_dims)
    start = slice_at(lo, hi, 0, lo[0])

    def sample(key, n):
        k1, k2 = jax.random.split(key)
        nb = n // 2
        x = jnp.concatenate([faces(k1, nb)["x"], start(k2, n - nb)["x"]])
        flag = jnp.concatenate([jnp.zeros((nb, 1)), jnp.ones((n - nb, 1))])
        return {"x": x, "target": jax.vmap(target)(x)[:, None], "initial": flag}

    return sample


def noisy(key, values, noise):
    return values + noise * jnp.std(values) * jax.random.normal(key, values.shape, values.dtype)


def analytic_data_sampler(lo, hi, fn, noise):
    """Uniform interior points and fn(points) + noise (both from the key)."""
    box = uniform_box(lo, hi)

    def sample(key, n):
        k_pts, k_noise = jax.random.split(key)
        x = box(k_pts, n)["x"]
        return {"x": x, "u": noisy(k_noise, jax.vmap(fn)(x)[:, None], noise)}

    return sample


def data_residual(u, p, theta):
    return u(p["x"]) - p["u"]


# ------------------------------------------------------------------------------ Burgers
B_LO, B_HI = (0.0, -1.0), (1.0, 1.0)


@functools.lru_cache(maxsize=None)
def burgers_pool(nu: float):
    """5000 Cole–Hopf values on t ∈ {0.02, …, 1} × 100 interior x (the data pool)."""
    t = np.linspace(0.02, 1.0, 50)
    x = np.linspace(-1.0, 1.0, 102)[1:-1]
    T, X = np.meshgrid(t, x, indexing="ij")
    pts = np.stack([T.ravel(), X.ravel()], axis=1)
    return pts, burgers_sine(pts[:, 1], pts[:, 0], nu)[:, None]


def burgers_inv(name: str, noise: float, nu: float = 0.01 / np.pi, guess: float = 0.01) -> Problem:
    pool_x, pool_u = burgers_pool(nu)

    def residual(u, p, theta):
        x = p["x"]
        _, u_t = D.value_and_d(u, x, 0)
        v, v_x, v_xx = D.taylor(u, x, 1, 2)
        return u_t + v * v_x - theta["nu"] * v_xx

    def boundary(u, p, theta):
        return u(p["x"]) - p["target"]

    def data_sample(key, n):
        k_idx, k_noise = jax.random.split(key)
        idx = jax.random.choice(k_idx, pool_x.shape[0], (n,), replace=n > pool_x.shape[0])
        vals = jnp.asarray(pool_u)[idx]
        return {"x": jnp.asarray(pool_x)[idx], "u": noisy(k_noise, vals, noise)}

    def reference():
        pts = grid(B_LO, B_HI, (101, 256))
        return Reference(pts, burgers_sine(pts[:, 1], pts[:, 0], nu)[:, None],
                         provenance={"solver": "cole-hopf trapezoid quadrature", "grid": [101, 256], "nodes": 1201})

    return Problem(
        name=name,
        family="burgers-inv",
        kind="inverse",
        description=f"Burgers inverse problem: recover nu = {nu:.6g} from {noise:.0%}-noise data",
        input_names=("t", "x"),
        output_names=("u",),
        domain=(B_LO, B_HI),
        terms=(
            Term("residual", uniform_box(B_LO, B_HI), residual, n=2048),
            Term("boundary", boundary_initial_sampler(B_LO, B_HI, (1,), lambda x: jnp.where(
                x[0] == 0.0, -jnp.sin(jnp.pi * x[1]), 0.0)), boundary, n=512),
            Term("data", data_sample, data_residual, n=1000, resample=False),
        ),
        reference_fn=reference,
        params={"nu": float(nu), "noise": noise},
        time_dependent=True,
        unknowns={"nu": guess},
        true_unknowns={"nu": float(nu)},
        reference_kind="cole-hopf quadrature",
    )


# ------------------------------------------------------------------------------ heat
H_LO, H_HI = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)


def heat_exact(x, kappa, lib=jnp):
    return lib.exp(-2.0 * np.pi**2 * kappa * x[..., 0]) * lib.sin(np.pi * x[..., 1]) * lib.sin(np.pi * x[..., 2])


def heat_inv(name: str = "heat-inv", kappa: float = 0.05, guess: float = 0.1, noise: float = 0.0) -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        return D.d(u, x, 0) - theta["kappa"] * D.laplacian(u, x, dims=(1, 2))

    def boundary(u, p, theta):
        return u(p["x"]) - p["target"]

    def reference():
        pts = grid(H_LO, H_HI, (21, 51, 51))
        return Reference(pts, heat_exact(pts, kappa, np)[:, None], provenance="exact solution")

    return Problem(
        name=name,
        family="heat-inv",
        kind="inverse",
        description=f"2-D heat inverse problem: recover the diffusivity kappa = {kappa:g} from interior data",
        input_names=("t", "x", "y"),
        output_names=("u",),
        domain=(H_LO, H_HI),
        terms=(
            Term("residual", uniform_box(H_LO, H_HI), residual, n=2048),
            Term("boundary", boundary_initial_sampler(H_LO, H_HI, (1, 2), lambda x: heat_exact(x, kappa)), boundary, n=512),
            Term("data", analytic_data_sampler(H_LO, H_HI, lambda x: heat_exact(x, kappa), noise), data_residual,
                 n=1000, resample=False),
        ),
        reference_fn=reference,
        params={"kappa": kappa, "noise": noise},
        time_dependent=True,
        unknowns={"kappa": guess},
        true_unknowns={"kappa": kappa},
        reference_kind="analytic",
    )


# ------------------------------------------------------------------------------ wave
W_LO, W_HI = (0.0, 0.0), (1.0, 1.0)


def wave_exact(x, c, lib=jnp):
    t, y = x[..., 0], x[..., 1]
    return lib.sin(np.pi * y) * lib.cos(c * np.pi * t) + 0.5 * lib.sin(4 * np.pi * y) * lib.cos(4 * c * np.pi * t)


def wave_inv(name: str = "wave-inv", c: float = 2.0, guess: float = 1.0, noise: float = 0.0) -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        return D.taylor(u, x, 0, 2)[2] - theta["c"] ** 2 * D.taylor(u, x, 1, 2)[2]

    def boundary(u, p, theta):
        x = p["x"]
        v, v_t = D.value_and_d(u, x, 0)
        return jnp.concatenate([v - p["target"], p["initial"] * v_t])  # u_t(x, 0) = 0 at t = 0 only

    def reference():
        pts = grid(W_LO, W_HI, (101, 101))
        return Reference(pts, wave_exact(pts, c, np)[:, None], provenance="exact solution")

    return Problem(
        name=name,
        family="wave-inv",
        kind="inverse",
        description=f"1-D wave inverse problem: recover the wave speed c = {c:g} from interior data",
        input_names=("t", "x"),
        output_names=("u",),
        domain=(W_LO, W_HI),
        terms=(
            Term("residual", uniform_box(W_LO, W_HI), residual, n=2048),
            Term("boundary", boundary_initial_sampler(W_LO, W_HI, (1,), lambda x: wave_exact(x, c)), boundary, n=512),
            Term("data", analytic_data_sampler(W_LO, W_HI, lambda x: wave_exact(x, c), noise), data_residual,
                 n=1000, resample=False),
        ),
        reference_fn=reference,
        params={"c": c, "noise": noise},
        time_dependent=True,
        unknowns={"c": guess},
        true_unknowns={"c": c},
        reference_kind="analytic",
    )


# ------------------------------------------------------------------------------ Poisson, field a(x)
P_LO, P_HI = (0.0, 0.0), (1.0, 1.0)
A_WIDTHS = (2, 20, 20, 1)


def poisson_u(x):
    return jnp.sin(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1])


def poisson_a(x):
    return 1.0 / (1.0 + x[0] ** 2 + x[1] ** 2 + (x[0] - 1.0) ** 2 + (x[1] - 1.0) ** 2)


def a_net_init(seed: int = 1234) -> dict:
    """Glorot-normal weights, zero biases, last bias so that softplus(b) = 1 (a ≡ 1 initially)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, (m, n) in enumerate(zip(A_WIDTHS[:-1], A_WIDTHS[1:])):
        out[f"a_w{i}"] = rng.normal(0.0, np.sqrt(2.0 / (m + n)), (m, n)) * (0.1 if i == len(A_WIDTHS) - 2 else 1.0)
        out[f"a_b{i}"] = np.zeros(n)
    out[f"a_b{len(A_WIDTHS) - 2}"] = np.full(1, np.log(np.e - 1.0))
    return out


def a_net(theta, x):
    h = 2.0 * x - 1.0  # [0, 1]² → [−1, 1]²
    n_layers = len(A_WIDTHS) - 1
    for i in range(n_layers):
        h = h @ theta[f"a_w{i}"] + theta[f"a_b{i}"]
        if i < n_layers - 1:
            h = jnp.tanh(h)
    return jax.nn.softplus(h[0])


def poisson_inv(name: str = "poisson-inv", noise: float = 0.0) -> Problem:
    def source(x):
        flux = lambda y: poisson_a(y) * jax.grad(poisson_u)(y)
        return -jnp.trace(jax.jacfwd(flux)(x))

    def residual(u, p, theta):
        x = p["x"]
        grad_u = jax.jacfwd(lambda y: u(y)[0])(x)
        lap_u = D.laplacian(u, x)[0]
        a, grad_a = jax.value_and_grad(lambda y: a_net(theta, y))(x)
        return (-(jnp.dot(grad_a, grad_u) + a * lap_u) - source(x))[None]

    def boundary(u, p, theta):
        x = p["x"]
        return jnp.concatenate([u(x), (a_net(theta, x) - poisson_a(x))[None]])

    g = grid(P_LO, P_HI, (51, 51))
    a_true = np.asarray(jax.vmap(poisson_a)(jnp.asarray(g)))

    def unknowns_metrics(theta):
        a = np.asarray(jax.vmap(lambda y: a_net(theta, y))(jnp.asarray(g, dtype=jnp.asarray(theta["a_w0"]).dtype)))
        return {"a_rel_l2": float(np.linalg.norm(a - a_true) / np.linalg.norm(a_true)),
                "a_max_abs_error": float(np.max(np.abs(a - a_true)))}

    def reference():
        pts = grid(P_LO, P_HI, (101, 101))
        return Reference(pts, np.asarray(jax.vmap(poisson_u)(jnp.asarray(pts)))[:, None], provenance="exact solution")

    return Problem(
        name=name,
        family="poisson-inv",
        kind="inverse",
        description="2-D Poisson inverse problem: recover the coefficient field a(x, y) (second network) from u data",
        input_names=("x", "y"),
        output_names=("u",),
        domain=(P_LO, P_HI),
        terms=(
            Term("residual", uniform_box(P_LO, P_HI), residual, n=2048),
            Term("boundary", box_faces(P_LO, P_HI), boundary, n=512),
            Term("data", analytic_data_sampler(P_LO, P_HI, poisson_u, noise), data_residual, n=1000, resample=False),
        ),
        reference_fn=reference,
        params={"noise": noise, "a_net": list(A_WIDTHS)},
        unknowns=a_net_init(),
        true_unknowns={},
        reference_kind="analytic",
        unknowns_metrics=unknowns_metrics,
    )


register("burgers-inv", functools.partial(burgers_inv, "burgers-inv", 0.0))
register("burgers-inv-noise1", functools.partial(burgers_inv, "burgers-inv-noise1", 0.01))
register("heat-inv", functools.partial(heat_inv, "heat-inv"))
register("heat-inv-noise1", functools.partial(heat_inv, "heat-inv-noise1", noise=0.01))
register("wave-inv", functools.partial(wave_inv, "wave-inv"))
register("wave-inv-noise1", functools.partial(wave_inv, "wave-inv-noise1", noise=0.01))
register("poisson-inv", functools.partial(poisson_inv, "poisson-inv"))
register("poisson-inv-noise1", functools.partial(poisson_inv, "poisson-inv-noise1", noise=0.01))
