r"""Physics-informed initialisation of a PirateNet's output layer (``model.pi_init: true``).

Wang, Li, Chen, Perdikaris, *PirateNets: Physics-informed Deep Learning with Residual Adaptive
Networks*, JMLR 25 (2024), arXiv 2402.00326. Sources actually consulted (the paper's body could
not be opened from this environment; see pinnarena/models.py): the paper's abstract and published
summaries, which state that the PirateNet starts as a linear combination of its embedding and
that its last layer can be initialised by least squares from available data, and the authors'
public implementation (``jaxpi``: ``examples/allen_cahn/train.py``, ``examples/grey_scott/train.py``
and the ``examples/*/configs/pirate.py`` files), read to understand the procedure, not copied.

Why it is a linear problem. At initialisation every block's α⁽ˡ⁾ = 0, so x⁽ᴸ⁺¹⁾ = Φ(x) and the
PirateNet is the linear model

    u(x) = W_out Φ(x) + b_out,      Φ(x) = [cos(B x̂), sin(B x̂)]

in the random Fourier basis, and the last layer can be chosen by linear least squares,
W = argmin_W ‖W Φ(X) − Y‖², with Y data about the solution. (This engine fits the bias b_out
together with W_out; the reference implementation's fitted layer has no bias.)

What is fitted here (the rule, generic over the problem API of pinnarena/problem.py). The data
are the problem's own loss terms of one role, chosen in this order:

1. ``initial`` terms if the problem has any (every time-dependent benchmark): the initial
   condition, which is what the authors' implementation fits for its time-dependent examples
   (Allen–Cahn, KdV, Burgers, Gray–Scott, Ginzburg–Landau; an alternative there, a solution of
   the linearised PDE, needs a solver and is not offered here);
2. otherwise ``data`` terms (inverse problems without an initial-condition term): the run's own
   observations, exactly the points and values its data loss sees, never new reference samples;
3. otherwise ``boundary`` terms (steady problems: the boundary condition is the only data a
   forward steady problem has). This case is this engine's choice: no statement of the paper on
   steady problems could be checked here, and the authors' public lid-driven-cavity example runs
   without the initialisation; config/paper.yaml therefore switches it on for the time-dependent
   study only.

Initial-condition data are extended constantly in time. A point (t₀, x_j) of an initial term
is paired with a time τ_j drawn uniformly from the problem's time interval, the network is
evaluated at (τ_j, x_j) and the term's residual is formed with the target of (t₀, x_j), so the fit
is u(τ, x) ≈ u₀(x) over the whole space-time box (and, for a condition on u_t, u_t(τ, x) ≈ its
initial value). This follows the authors' implementation, which fits u₀ tiled over a grid of
times. Fitting the slice t = t₀ alone leaves the time dependence of the Fourier combination free:
measured at width 256, σ = 1, it starts burgers / allen-cahn at a PDE-residual loss of 111 / 74
and a relative L2 error of 4.2 / 1.2, against 1.4 / 0.9 and 0.62 / 0.68 with the extension
(Glorot initialisation: 8.9 / 2475 and 3.4 / 3.0). The target never depends on τ (it is
evaluated at the sampled point), so no information beyond the initial condition enters.
Problems whose first input is not ``t`` are fitted on their sampled points only.

The least-squares problem. With r_k(W, b; p) the residual of term k at point p (for the
network whose output layer is (W, b) and whose other parameters are those drawn at
initialisation; θ₀ the initial PDE unknowns), the fit solves

    min_{W, b}  Σ_k (1/N_k) Σ_j ‖ r_k(W, b; p_j) ‖²

(the sum of the chosen terms' losses as training computes them, each term a mean over its N_k
points). Initial, boundary (Dirichlet, Neumann, periodic) and data residuals are affine in u and
u is affine in (W, b), so r = r₀ + J w with w = vec(W, b), r₀ = r(0) and J = ∂r/∂w (built with
``jax.jacfwd`` over the flattened output layer), and one Gauss–Newton step from w = 0 solves the
problem exactly:

    w* = argmin_w ‖J w + r₀‖²  = −J⁺ r₀.

It is solved in float64 on the host by an SVD (``numpy.linalg.lstsq``) with singular values
below ``RCOND`` = 1e-3 × the largest treated as zero, i.e. the minimum-norm solution of the
truncated problem. The features of nearby random frequencies are nearly collinear on a finite
point set: without the cut-off (1e-8) the minimiser has coefficients cancelling each other on
the fitting points, ‖W_out‖ ≈ 300–3000 against ≈ 1.3 for Glorot at width 256, while 1e-3 keeps
‖W_out‖ ≈ 2–5 at an initial-condition loss of 2e-3 to 5e-3 (burgers, allen-cahn, kdv; the loss
without the initialisation is 2–3). 1e-3 is also about the cut-off the reference implementation
applies in practice (float32 ``jnp.linalg.lstsq`` with its default cut-off, machine epsilon ×
number of rows, ≈ 1.3e-3 for its Allen–Cahn fit). At the result the gradient of the objective
vanishes up to the truncated directions (relative size ≲ RCOND). After the solve the residual
is evaluated again at w*; if it does not match the affine prediction r₀ + J w*, the chosen
terms are not affine in the output layer and a ValueError says so.

Being the minimum-norm solution, the fit sets to zero whatever the data do not determine: the
columns of W_out (and entries of b_out) of outputs that the fitted terms do not involve (e.g.
the pressure, for an initial condition on the velocity), and the whole layer when the data are
homogeneous (u₀ ≡ 0, or a zero Dirichlet condition in the boundary case): the network then
starts at u ≡ 0 in those outputs, and the first update moves them, as the PDE residual's
gradient with respect to W_out is not zero.

Periodicity terms are not fitted. On periodic problems the fitted combination matches the
initial condition's values, but its derivatives need not match across the period ends (the
authors embed periodic coordinates exactly; this engine does not), so the periodic loss can
start higher than at Glorot initialisation: kdv at width 256 starts at periodic / residual /
initial losses 23 / 1.2 / 0.002 with the fit against 13 / 8.9 / 1.9 without it.

With random weight factorisation the layer is stored as W = diag(exp(s)) V (in the code's
(fan_in, fan_out) layout, exp(s) scales the output units); s keeps its random draw and
V = W / exp(s). Every other parameter (gates, blocks, α, Fourier matrix, adapters, PDE
unknowns) is left exactly as drawn. The fitting points are drawn from the run's initialisation
key folded with a constant, so they are reproducible and independent of the training points.
"""
from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ROLE_ORDER = ("initial", "data", "boundary")
RCOND = 1e-3  # relative singular-value cut-off of the least-squares solve (module docstring)
_KEY_SALT = 0x91A17  # folded into the initialisation key: the fitting points' own stream


class FitData(NamedTuple):
    """The points the output layer is fitted to: per chosen term, its batch and time shifts."""

    terms: tuple  # the chosen Terms
    batches: tuple  # per term: the sampled batch (dict of arrays, N_k rows)
    shifts: tuple  # per term: (N_k,) time shifts τ_j − t_j added to input 0 (zeros if none)


def fit_terms(problem) -> tuple:
    """The terms the initialisation fits (the rule of the module docstring)."""
    for role in ROLE_ORDER:
        chosen = tuple(t for t in problem.terms if t.role == role)
        if chosen:
            return chosen
    raise ValueError(
        f"model.pi_init: problem {problem.name!r} has no initial, data or boundary term to fit the "
        f"output layer to (its terms: {[(t.name, t.role) for t in problem.terms]}); use model.pi_init: false"
    )


def fitting_key(init_key: jax.Array) -> jax.Array:
    """The key of the fitting points, derived from the run's initialisation key."""
    return jax.random.fold_in(init_key, _KEY_SALT)


def fit_data(problem, key: jax.Array, sizes: Mapping[str, int], batch: Mapping[str, Any]) -> FitData:
    """Sample the fitting points: resampled terms draw ``sizes[name]`` fresh points from
    ``fold_in(key, k)``; fixed terms (data) reuse the run's own ``batch[name]``."""
    terms = fit_terms(problem)
    extend = problem.time_dependent and problem.input_names[0] == "t"
    t_lo, t_hi = float(problem.domain[0][0]), float(problem.domain[1][0])
    batches, shifts = [], []
    for k, term in enumerate(problem.terms):
        if term.role != terms[0].role:
            continue
        if term.resample:
            b = term.sample(jax.random.fold_in(key, k), int(sizes[term.name]))
        else:  # fixed data: exactly the run's own observations
            b = batch[term.name]
        n = b["x"].shape[0]
        if extend and term.role == "initial":
            tau = jax.random.uniform(jax.random.fold_in(key, 1000 + k), (n,), minval=t_lo, maxval=t_hi)
            shift = tau - b["x"][:, 0]
        else:
            shift = jnp.zeros((n,))
        batches.append(b)
        shifts.append(shift)
    return FitData(terms, tuple(batches), tuple(shifts))


def _trunk(net):
    return net["trunk"] if "trunk" in net else net


def output_layer(net) -> tuple[jax.Array, jax.Array]:
    """(W, b) of the output layer, W of shape (fan_in, output_dim), whatever its storage."""
    out = _trunk(net)["out"]
    w = out["v"] * jnp.exp(out["s"]) if "s" in out else out["w"]
    return w, out["b"]


def with_output_layer(net, w: jax.Array, b: jax.Array):
    """``net`` with the output layer set to (W, b), stored like the original (V = W / exp(s))."""
    out = _trunk(net)["out"]
    new = {"b": b, "s": out["s"], "v": w / jnp.exp(out["s"])} if "s" in out else {"b": b, "w": w}
    trunk = dict(_trunk(net), out=new)
    return dict(net, trunk=trunk) if "trunk" in net else trunk


def residual_fn(model, net, buffers, theta, data: FitData):
    """w = vec(W, b) ↦ the stacked, loss-weighted residuals of the fitting points (a flat vector).

    ``Σ r(w)²`` is the objective of the module docstring; it is affine in w for affine terms.
    """
    w0, b0 = output_layer(net)
    shape_w, n_w = w0.shape, w0.size

    def r(wflat):
        wflat = wflat.astype(w0.dtype)
        p = with_output_layer(net, wflat[:n_w].reshape(shape_w), wflat[n_w:])
        parts = []
        for term, batch, shift in zip(data.terms, data.batches, data.shifts):
            def one(row, s, term=term):
                u = lambda x: model.apply(p, buffers, x.at[0].add(s))
                return jnp.ravel(term.residual(u, row, theta))

            res = jax.vmap(one)(batch, shift)
            parts.append(jnp.ravel(res) / jnp.sqrt(float(res.shape[0])))
        return jnp.concatenate(parts)

    return r, n_w + b0.size


def fit(problem, model, params, buffers, batch: Mapping[str, Any], sizes: Mapping[str, int],
        key: jax.Array) -> Any:
    """``params`` ({"net", "pde"}) with the output layer fitted by least squares (module docstring).

    ``key``: the run's initialisation key (the fitting points use ``fitting_key(key)``);
    ``sizes``: points per term (the run's batch sizes); ``batch``: the run's batch (fixed terms).
    """
    net, theta = params["net"], params["pde"]
    data = fit_data(problem, fitting_key(key), sizes, batch)
    r, n = residual_fn(model, net, buffers, theta, data)
    zero = jnp.zeros((n,), output_layer(net)[0].dtype)
    r_fn = jax.jit(r)
    r0 = np.asarray(r_fn(zero), np.float64)
    J = np.asarray(jax.jit(jax.jacfwd(r))(zero), np.float64)
    w, *_ = np.linalg.lstsq(J, -r0, rcond=RCOND)
    predicted = r0 + J @ w
    achieved = np.asarray(r_fn(jnp.asarray(w, zero.dtype)), np.float64)
    scale = max(float(np.linalg.norm(r0)), float(np.linalg.norm(J @ w)), 1e-12)
    if not np.isfinite(achieved).all() or np.linalg.norm(achieved - predicted) > 1e-3 * scale:
        raise ValueError(
            f"model.pi_init: the residuals of terms {[t.name for t in data.terms]} of problem "
            f"{problem.name!r} are not affine in the output layer, so one least-squares step does not "
            f"fit them; use model.pi_init: false"
        )
    w0, b0 = output_layer(net)
    wj = jnp.asarray(w, w0.dtype)
    new_net = with_output_layer(net, wj[: w0.size].reshape(w0.shape), wj[w0.size:])
    return dict(params, net=new_net)
