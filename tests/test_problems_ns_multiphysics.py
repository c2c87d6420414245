"""Navier–Stokes (analytic, inverse) and multi-physics (manufactured) problems.

The core check: in float64 every exact/manufactured solution makes each residual term of its
problem vanish to round-off, while a perturbed field does not. For the multi-physics systems, whose
forcing is the operator applied to the exact fields, the operators themselves are checked against
hand-computed values on polynomial fields, so that "exact solution satisfies the system" is not
true by construction only.
"""
from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pinnarena import problems
from pinnarena.problems import REGISTRY
from pinnarena.problems import multiphysics as MP
from pinnarena.problems import ns_analytic as NA

EXACT = {
    "kovasznay-re20": NA.kovasznay_exact(20.0),
    "kovasznay-re40": NA.kovasznay_exact(40.0),
    "taylor-green": NA.taylor_green_exact(0.1),
    "beltrami": NA.beltrami_exact(np.pi / 4, np.pi / 2, 1.0),
    "thermoelastic-c0.1": MP.thermoelastic_exact,
    "thermoelastic-c1": MP.thermoelastic_exact,
    "poroelastic-c0.1": MP.poroelastic_exact,
    "poroelastic-c1": MP.poroelastic_exact,
    "mhd-c0.1": MP.mhd_exact,
    "mhd-c1": MP.mhd_exact,
    "ns-inv": NA.kovasznay_exact(20.0),
}

EXPECTED = {  # name: (kind, family, loss names, time_dependent)
    "kovasznay-re20": ("forward", "kovasznay", ("momentum-x", "momentum-y", "continuity", "boundary"), False),
    "kovasznay-re40": ("forward", "kovasznay", ("momentum-x", "momentum-y", "continuity", "boundary"), False),
    "taylor-green": ("forward", "taylor-green",
                     ("momentum-x", "momentum-y", "continuity", "initial", "boundary"), True),
    "beltrami": ("forward", "beltrami",
                 ("momentum-x", "momentum-y", "momentum-z", "continuity", "initial", "boundary"), True),
    "thermoelastic-c0.1": ("multiphysics", "thermoelastic", ("momentum-x", "momentum-y", "heat", "boundary"), True),
    "thermoelastic-c1": ("multiphysics", "thermoelastic", ("momentum-x", "momentum-y", "heat", "boundary"), True),
    "poroelastic-c0.1": ("multiphysics", "poroelastic",
                         ("momentum-x", "momentum-y", "mass", "boundary", "initial"), True),
    "poroelastic-c1": ("multiphysics", "poroelastic", ("momentum-x", "momentum-y", "mass", "boundary", "initial"), True),
    "mhd-c0.1": ("multiphysics", "mhd",
                 ("momentum-x", "momentum-y", "continuity", "induction-x", "induction-y", "boundary"), False),
    "mhd-c1": ("multiphysics", "mhd",
               ("momentum-x", "momentum-y", "continuity", "induction-x", "induction-y", "boundary"), False),
    "ns-inv": ("inverse", "ns-inv", ("momentum", "continuity", "data", "gauge"), False),
}
NAMES = sorted(EXPECTED)


@pytest.fixture
def x64():
    prev = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", prev)


def fresh(name):
    """A new instance (built under the current precision), not the cached shared one."""
    return REGISTRY.factory(name)()


def bump(x):
    """A smooth perturbation that is neither 2π-periodic nor divergence-free."""
    return 0.1 * jnp.sin(1.0 + jnp.sum(0.7 * (1.0 + jnp.arange(x.shape[0])) * x))


def elastic_delta(x):  # (t x², 0, t x y) on inputs (t, x, y)
    return jnp.stack([x[0] * x[1] ** 2, 0.0 * x[0], x[0] * x[1] * x[2]])


def mhd_w(x):  # u = (y², x²), p = x y, B = (−y, x) on inputs (x, y)
    return jnp.stack([x[1] ** 2, x[0] ** 2, x[0] * x[1], -x[1], x[0]])


POLY = {**{f"{f}-{c}": elastic_delta for f in ("thermoelastic", "poroelastic") for c in ("c0.1", "c1")},
        "mhd-c0.1": mhd_w, "mhd-c1": mhd_w}
_COMPILED = {}


def compiled(name):
    """(problem, batch, run) for float64 checks (call under the x64 fixture), built once per name.

    ``run(c, theta)`` evaluates every term's residuals for the field
    c[0]·exact + c[1]·bump + c[2]·poly, with one compilation serving all coefficient choices.
    """
    if name not in _COMPILED:
        p = fresh(name)
        batch = p.sample(jax.random.PRNGKey(3), {t.name: 24 for t in p.terms})
        exact, poly = EXACT[name], POLY.get(name, lambda x: 0.0 * x[0])

        @jax.jit
        def run(c, theta):
            field = lambda x: c[0] * exact(x, jnp) + c[1] * bump(x) + c[2] * poly(x)
            return {t.name: jax.vmap(lambda row, t=t: jnp.atleast_1d(t.residual(field, row, theta)))(batch[t.name])
                    for t in p.terms}

        _COMPILED[name] = (p, batch, run)
    return _COMPILED[name]


def coeffs(*c):
    return jnp.asarray(c, dtype=jnp.float64)


def theta_of(problem):
    return {k: jnp.asarray(v, dtype=jnp.float64) for k, v in problem.true_unknowns.items()}


def test_registry_has_all_problems():
    registered = set(problems.names())
    assert set(NAMES) <= registered


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name):
    p = problems.get(name)
    kind, family, losses, td = EXPECTED[name]
    meta = p.metadata()
    assert meta["kind"] == kind and meta["family"] == family
    assert tuple(meta["loss_names"]) == losses and meta["n_losses"] == len(losses)
    assert meta["time_dependent"] is td
    assert (p.input_names[0] == "t") is td
    assert isinstance(meta["description"], str) and len(meta["description"]) > 20
    assert meta["params"] and json.loads(json.dumps(meta))["params"] == meta["params"]
    assert all(t.n >= 1 for t in p.terms)
    roles = {"boundary": "boundary", "gauge": "boundary", "initial": "initial", "data": "data"}
    assert meta["loss_roles"] == [roles.get(n, "residual") for n in losses]
    assert p.reference_kind in ("analytic", "manufactured")


def test_multiphysics_loss_counts():
    k = {fam: problems.get(f"{fam}-c1").n_losses for fam in ("thermoelastic", "poroelastic", "mhd")}
    assert k == {"thermoelastic": 4, "poroelastic": 5, "mhd": 6}
    for fam in ("thermoelastic", "poroelastic", "mhd"):
        c01, c1 = problems.get(f"{fam}-c0.1"), problems.get(f"{fam}-c1")
        assert c01.params["coupling"] == 0.1 and c1.params["coupling"] == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_exact_solution_satisfies_every_term(name, x64):
    p, batch, run = compiled(name)
    theta = theta_of(p)
    res = run(coeffs(1, 0, 0), theta)
    bad = run(coeffs(1, 1, 0), theta)
    for t in p.terms:
        r = np.asarray(res[t.name])
        assert r.dtype == np.float64 and r.shape[0] == 24
        if t.name == "data":  # noisy observations: checked in test_ns_inverse_data_noise
            continue
        assert np.max(np.abs(r)) < 1e-11, (name, t.name, np.max(np.abs(r)))
        # the residual is not trivially zero: a perturbed field violates it
        assert np.max(np.abs(np.asarray(bad[t.name]))) > 1e-3, (name, t.name)


@pytest.mark.parametrize("name", ["thermoelastic-c0.1", "thermoelastic-c1", "poroelastic-c0.1", "poroelastic-c1"])
def test_elastic_operator_by_hand(name, x64):
    """Linear system: residual(exact + δ) = L(δ); δ = (t x², 0, t x y) gives (λ = μ = 1, c):
    momentum-x = −6t + c t y, momentum-y = c t x, scalar = x y + 2 c x."""
    p, batch, run = compiled(name)
    c = p.params["coupling"]
    res = run(coeffs(1, 0, 1), {})
    scalar = "heat" if "heat" in p.loss_names else "mass"
    for term, want in [("momentum-x", lambda t, x, y: -6 * t + c * t * y),
                       ("momentum-y", lambda t, x, y: c * t * x),
                       (scalar, lambda t, x, y: x * y + 2 * c * x)]:
        X = np.asarray(batch[term]["x"])
        np.testing.assert_allclose(np.asarray(res[term])[:, 0], want(X[:, 0], X[:, 1], X[:, 2]), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["mhd-c0.1", "mhd-c1"])
def test_mhd_operator_by_hand(name, x64):
    """R(w) = residual(w) − residual(0) for w: u = (y², x²), p = x y, B = (−y, x); by hand
    (j = 2, ΔB = 0): momentum = (2x²y + y − 2ν + 2Sx, 2xy² + x − 2ν + 2Sy), continuity = 0,
    induction = (−x² − 2xy, y² + 2xy)."""
    p, batch, run = compiled(name)
    S, nu = p.params["coupling"], p.params["nu"]
    rw, r0 = run(coeffs(0, 0, 1), {}), run(coeffs(0, 0, 0), {})
    want = {
        "momentum-x": lambda x, y: 2 * x**2 * y + y - 2 * nu + 2 * S * x,
        "momentum-y": lambda x, y: 2 * x * y**2 + x - 2 * nu + 2 * S * y,
        "continuity": lambda x, y: 0 * x,
        "induction-x": lambda x, y: -(x**2) - 2 * x * y,
        "induction-y": lambda x, y: y**2 + 2 * x * y,
    }
    for term, f in want.items():
        X = np.asarray(batch[term]["x"])
        got = np.asarray(rw[term] - r0[term])[:, 0]
        np.testing.assert_allclose(got, f(X[:, 0], X[:, 1]), rtol=1e-10, atol=1e-10)


def test_mhd_manufactured_fields_are_solenoidal(x64):
    """The induction form used assumes ∇·u = ∇·B = 0; the manufactured fields must satisfy it."""
    X = jax.random.uniform(jax.random.PRNGKey(2), (32, 2), dtype=jnp.float64)
    J = jax.jit(jax.vmap(jax.jacfwd(lambda x: MP.mhd_exact(x, jnp))))(X)
    assert np.max(np.abs(J[:, 0, 0] + J[:, 1, 1])) < 1e-13
    assert np.max(np.abs(J[:, 3, 0] + J[:, 4, 1])) < 1e-13


@pytest.mark.parametrize("name", NAMES)
def test_reference_finite_inside_domain_and_exact(name):
    p = problems.get(name)
    ref = p.reference("smoke")
    # the stored values are the exact fields that the residual terms use (JAX path vs NumPy path)
    sub = ref.points[:: max(1, len(ref.points) // 500)]
    np.testing.assert_allclose(np.asarray(jax.vmap(lambda x: EXACT[name](x, jnp))(jnp.asarray(sub, jnp.float32))),
                               ref.values[:: max(1, len(ref.points) // 500)], rtol=1e-4, atol=1e-4)
    lo, hi = (np.asarray(b, float) for b in p.domain)
    assert ref.points.shape[1] == p.input_dim and ref.values.shape[1] == p.output_dim
    assert len(ref.points) >= 1000
    assert np.all(np.isfinite(ref.points)) and np.all(np.isfinite(ref.values))
    assert np.all(ref.points >= lo - 1e-12) and np.all(ref.points <= hi + 1e-12)
    # the grid spans the whole domain, and every output varies
    np.testing.assert_allclose(ref.points.min(0), lo)
    np.testing.assert_allclose(ref.points.max(0), hi)
    assert np.all(ref.values.std(0) > 1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_sampling_deterministic_in_key_and_inside_domain(name):
    p = problems.get(name)
    sizes = {t.name: 64 for t in p.terms}
    draw = jax.jit(lambda key: p.sample(key, sizes))  # one compilation for the three draws
    a, b, c = draw(jax.random.PRNGKey(7)), draw(jax.random.PRNGKey(7)), draw(jax.random.PRNGKey(8))
    lo, hi = (np.asarray(v, np.float32) for v in p.domain)
    for t in p.terms:
        for k in a[t.name]:
            np.testing.assert_array_equal(np.asarray(a[t.name][k]), np.asarray(b[t.name][k]))
        x = np.asarray(a[t.name]["x"])
        assert x.shape == (64, p.input_dim)
        assert np.all(x >= lo - 1e-6) and np.all(x <= hi + 1e-6)
        if t.name == "gauge":  # a fixed point, whatever the key
            np.testing.assert_array_equal(x, np.asarray(c[t.name]["x"]))
        else:
            assert not np.array_equal(x, np.asarray(c[t.name]["x"]))
        if "mask" in a[t.name]:  # pressure gauge face: mask = 1 exactly on the face x_{first spatial} = hi
            i = 1 if p.time_dependent else 0
            mask = np.asarray(a[t.name]["mask"])
            assert set(np.unique(mask)) <= {0.0, 1.0}
            np.testing.assert_array_equal(mask == 1.0, x[:, i] == hi[i])
    # boundary-type terms lie on the boundary
    for t in p.terms:
        if t.name == "boundary" and name != "taylor-green":
            x = np.asarray(a[t.name]["x"])
            on = np.isclose(x, lo, atol=1e-6) | np.isclose(x, hi, atol=1e-6)
            assert np.all(on.any(axis=1))
        if t.name == "initial":
            assert np.all(np.asarray(a[t.name]["x"])[:, 0] == 0.0)


def test_ns_inverse_unknowns_and_data_terms():
    p = problems.get("ns-inv")
    assert set(p.unknowns) == {"nu"} and p.true_unknowns == {"nu": 1.0 / 20.0}
    assert p.unknowns["nu"] != p.true_unknowns["nu"]
    resample = {t.name: t.resample for t in p.terms}
    assert resample == {"momentum": True, "continuity": True, "data": False, "gauge": False}


def test_ns_inverse_viscosity_enters_momentum(x64):
    p, batch, run = compiled("ns-inv")
    right = np.asarray(run(coeffs(1, 0, 0), {"nu": jnp.asarray(0.05)})["momentum"])
    wrong = np.asarray(run(coeffs(1, 0, 0), {"nu": jnp.asarray(0.1)})["momentum"])
    assert np.max(np.abs(right)) < 1e-11 and np.max(np.abs(wrong)) > 1e-2


def test_ns_inverse_data_noise(x64):
    """data residual of the exact flow = −noise: mean 0, standard deviation σ = 0.01."""
    p = fresh("ns-inv")
    sigma = p.params["noise_std"]
    term = {t.name: t for t in p.terms}["data"]
    n = 4096
    pts = term.sample(jax.random.PRNGKey(11), n)
    r = np.asarray(jax.vmap(lambda row: term.residual(lambda x: EXACT["ns-inv"](x, jnp), row, {}))(pts))
    assert r.shape == (n, 2)
    assert abs(r.std() / sigma - 1.0) < 0.05
    assert abs(r.mean()) < 4 * sigma / np.sqrt(2 * n)
    other = term.sample(jax.random.PRNGKey(12), n)
    assert not np.allclose(np.asarray(other["obs"]), np.asarray(pts["obs"]))
