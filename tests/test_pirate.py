"""PirateNet (model.arch = pirate): the paper's equations, parameter count, derivatives, adapters,
configuration errors, training through the engine, and the physics-informed initialisation of the
output layer (model.pi_init, pinnarena/pirate_init.py)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pinnarena import derivatives as D
from pinnarena import pirate_init
from pinnarena.config import resolve
from pinnarena.models import ModelConfig, count_params, make_model
from pinnarena.training import build, train, train_seeds


def _domain(d):
    lo = -1.0 - 0.5 * np.arange(d)
    return lo, lo + 2.0 + np.arange(d)  # boxes of different sizes per coordinate


def _weight(layer):
    return np.asarray(layer["v"] * np.exp(layer["s"])[None, :] if "s" in layer else layer["w"], np.float64)


def _embedding(buffers, domain, x):
    """Φ(x) = [cos(B x̂), sin(B x̂)] with x̂ the point mapped to [-1, 1]^d, computed in NumPy."""
    lo, hi = (np.asarray(a, np.float64) for a in domain)
    xh = 2.0 * (np.asarray(x, np.float64) - lo) / (hi - lo) - 1.0
    z = xh @ np.asarray(buffers["B"], np.float64)
    return np.concatenate([np.cos(z), np.sin(z)])


def _reference(params, buffers, domain, x, lora=None):
    """The paper's forward pass (arXiv 2402.00326, Section 4), written out in NumPy (tanh)."""
    def dense(layer, h, ad=None):
        z = h @ _weight(layer) + np.asarray(layer["b"], np.float64)
        if ad is not None:
            z = z + (h @ np.asarray(ad["a"], np.float64)) @ np.asarray(ad["b"], np.float64)
        return z

    phi = _embedding(buffers, domain, x)
    U, V = np.tanh(dense(params["gate_u"], phi)), np.tanh(dense(params["gate_v"], phi))
    h = phi
    for l, blk in enumerate(params["blocks"]):
        ads = [None] * 3 if lora is None else [lora.get(3 * l + j) for j in range(3)]
        f = np.tanh(dense(blk["dense"][0], h, ads[0]))
        z1 = f * U + (1 - f) * V
        g = np.tanh(dense(blk["dense"][1], z1, ads[1]))
        z2 = g * U + (1 - g) * V
        r = np.tanh(dense(blk["dense"][2], z2, ads[2]))
        a = float(blk["alpha"])
        h = a * r + (1 - a) * h
    return dense(params["out"], h)


def _with_alphas(params, alphas):
    blocks = [dict(b, alpha=jnp.asarray(a, b["alpha"].dtype)) for b, a in zip(params["blocks"], alphas)]
    return dict(params, blocks=blocks)


def _perturb(tree, key, scale=0.3):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    keys = jax.random.split(key, len(leaves))
    return jax.tree_util.tree_unflatten(
        treedef, [x + scale * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(leaves, keys)])


@pytest.mark.parametrize("d_in,d_out,rwf", [(1, 1, False), (2, 1, True), (3, 2, False), (5, 3, True)])
def test_output_shape_and_initial_function_is_linear_in_the_embedding(d_in, d_out, rwf):
    cfg = ModelConfig(arch="pirate", width=12, depth=2, rwf=rwf, fourier_scale=2.0)
    dom = _domain(d_in)
    m = make_model(cfg, dom, d_out)
    params, buffers = m.init(jax.random.PRNGKey(d_in))
    assert buffers["B"].shape == (d_in, 6)
    xs = jax.random.uniform(jax.random.PRNGKey(7), (9, d_in), minval=dom[0], maxval=dom[1])
    ys = jax.vmap(lambda x: m.apply(params, buffers, x))(xs)
    assert ys.shape == (9, d_out)
    assert all(float(b["alpha"]) == 0.0 for b in params["blocks"])
    # α = 0: u(x) = W_out Φ(x) + b_out, whatever the blocks' and gates' weights are
    out = params["out"]
    for x, y in zip(np.asarray(xs), np.asarray(ys)):
        expected = _embedding(buffers, dom, x) @ _weight(out) + np.asarray(out["b"])
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    # ... and so it does not depend on the blocks at all
    blocks = _perturb(params["blocks"], jax.random.PRNGKey(3))
    blocks = [dict(b, alpha=jnp.zeros(())) for b in blocks]
    ys2 = jax.vmap(lambda x: m.apply(dict(params, blocks=blocks), buffers, x))(xs)
    np.testing.assert_allclose(ys2, ys, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("rwf", [False, True])
def test_forward_pass_follows_the_paper_once_alpha_moves(rwf):
    cfg = ModelConfig(arch="pirate", width=10, depth=3, rwf=rwf)
    dom = _domain(2)
    m = make_model(cfg, dom, 2)
    params, buffers = m.init(jax.random.PRNGKey(0))
    params = _perturb(params, jax.random.PRNGKey(1), 0.1)  # nonzero biases, α ≠ 0
    x = jnp.array([0.1, 0.4])
    y0 = m.apply(_with_alphas(params, [0.0] * 3), buffers, x)
    for alphas in ([0.5, 0.0, 0.0], [0.0, 0.0, 1.0], [0.3, -0.2, 0.8]):
        p = _with_alphas(params, alphas)
        y = m.apply(p, buffers, x)
        assert not np.allclose(y, y0, atol=1e-4), alphas  # switching a block on changes the output
        np.testing.assert_allclose(y, _reference(p, buffers, dom, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("width,depth,d_out,rwf", [(8, 1, 1, False), (16, 3, 2, True), (256, 3, 1, True)])
def test_parameter_count_has_the_closed_form(width, depth, d_out, rwf):
    def dense(a, b):  # W (or V), b, and with weight factorisation the scales s
        return a * b + b + (b if rwf else 0)

    expected = 2 * dense(width, width) + depth * (3 * dense(width, width) + 1) + dense(width, d_out)
    cfg = ModelConfig(arch="pirate", width=width, depth=depth, rwf=rwf)
    params, buffers = make_model(cfg, _domain(2), d_out).init(jax.random.PRNGKey(0))
    assert count_params(params) == expected
    assert buffers["B"].shape == (2, width // 2)  # not a parameter
    # fourier_features = width is the same network as the default 0
    p2, _ = make_model(ModelConfig(arch="pirate", width=width, depth=depth, rwf=rwf, fourier_features=width),
                       _domain(2), d_out).init(jax.random.PRNGKey(0))
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(p2)):
        assert np.array_equal(a, b)


def test_forward_mode_and_taylor_derivatives_agree_with_jacfwd_and_hessian():
    cfg = ModelConfig(arch="pirate", width=12, depth=2, rwf=True, fourier_scale=1.5)
    dom = _domain(3)
    m = make_model(cfg, dom, 2)
    params, buffers = m.init(jax.random.PRNGKey(4))
    params = _with_alphas(_perturb(params, jax.random.PRNGKey(5), 0.05), [0.6, 0.4])
    u = lambda x: m.apply(params, buffers, x)
    x = jnp.array([-0.3, 0.2, 0.9])
    J = jax.jacfwd(u)(x)  # (2, 3)
    H = jax.hessian(u)(x)  # (2, 3, 3)
    T3 = jax.jacfwd(jax.jacfwd(jax.jacfwd(u)))(x)  # (2, 3, 3, 3)
    assert float(jnp.max(jnp.abs(H))) > 1e-3  # a nonlinear function: the test has teeth
    tol = dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(D.gradient(u, x), J, **tol)
    for i in range(3):
        np.testing.assert_allclose(D.d(u, x, i), J[:, i], **tol)
        val, di = D.value_and_d(u, x, i)
        np.testing.assert_allclose(val, u(x), **tol)
        np.testing.assert_allclose(di, J[:, i], **tol)
        for j in range(3):
            np.testing.assert_allclose(D.d2(u, x, i, j), H[:, i, j], **tol)
        series = D.taylor(u, x, i, 3)
        np.testing.assert_allclose(series[0], u(x), **tol)
        np.testing.assert_allclose(series[1], J[:, i], **tol)
        np.testing.assert_allclose(series[2], H[:, i, i], **tol)
        np.testing.assert_allclose(series[3], T3[:, i, i, i], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(D.laplacian(u, x), jnp.trace(H, axis1=1, axis2=2), **tol)
    np.testing.assert_allclose(D.laplacian(u, x, dims=(1, 2)), H[:, 1, 1] + H[:, 2, 2], **tol)


@pytest.mark.parametrize("placement,blocks", [("all", [0, 1, 2]), ("first", [0]), ("last", [2])])
def test_adapters_start_at_the_trunk_and_attach_to_the_blocks(placement, blocks):
    cfg = ModelConfig(arch="pirate", width=8, depth=3, rwf=True)
    dom, K, rank = _domain(2), 3, 2
    plain = make_model(cfg, dom, 1)
    ad = make_model(cfg, dom, 1, adapters={"rank": rank, "placement": placement}, num_losses=K)
    key = jax.random.PRNGKey(11)
    p0, b0 = plain.init(key)
    pa, ba = ad.init(key)
    assert set(pa) == {"trunk", "adapters"}
    for a, b in zip(jax.tree_util.tree_leaves((p0, b0)), jax.tree_util.tree_leaves((pa["trunk"], ba))):
        assert np.array_equal(a, b)  # the same trunk as without adapters
    assert len(pa["adapters"]) == K
    for per in pa["adapters"]:
        assert len(per) == 3 * len(blocks)  # the three dense layers of each adapted block
        for layer in per:
            assert layer["a"].shape == (8, rank) and layer["b"].shape == (rank, 8)
            assert not np.any(layer["b"])
    # B = 0: every loss's function is the trunk's; α = 1 so the blocks are switched on
    trunk = _with_alphas(pa["trunk"], [1.0, 1.0, 1.0])
    pa = {"trunk": trunk, "adapters": pa["adapters"]}
    x = jnp.array([0.2, -0.7])
    y = plain.apply(trunk, b0, x)
    assert np.array_equal(ad.apply(pa, ba, x, None), y)
    for k in range(K):
        np.testing.assert_allclose(ad.apply(pa, ba, x, k), y, rtol=1e-6, atol=1e-6)
    # nonzero adapters: loss k's output is the paper's network with W + A_k B_k in the adapted slots
    pa = {"trunk": trunk, "adapters": _perturb(pa["adapters"], jax.random.PRNGKey(2), 0.5)}
    slots = [3 * l + j for l in blocks for j in range(3)]
    for k in range(K):
        lora = dict(zip(slots, pa["adapters"][k]))
        yk = ad.apply(pa, ba, x, k)
        np.testing.assert_allclose(yk, _reference(trunk, ba, dom, x, lora), rtol=1e-5, atol=1e-5)
        assert not np.allclose(yk, y, atol=1e-4)
    assert np.array_equal(ad.apply(pa, ba, x, None), y)
    # an adapted block that is switched off (α = 0) leaves the output unchanged
    off = _with_alphas(trunk, [0.0 if l in blocks else 1.0 for l in range(3)])
    q = {"trunk": off, "adapters": pa["adapters"]}
    np.testing.assert_allclose(ad.apply(q, ba, x, 0), plain.apply(off, b0, x), rtol=1e-6, atol=1e-6)


def test_bad_configurations_name_the_key():
    with pytest.raises(ValueError, match=r"model\.fourier_features = model\.width") as err:
        ModelConfig(arch="pirate", width=16, fourier_features=32).validate()
    assert "model.fourier_features = 32, model.width = 16" in str(err.value)
    with pytest.raises(ValueError, match=r"model\.width"):
        ModelConfig(arch="pirate", width=15).validate()
    with pytest.raises(ValueError, match=r"model\.arch 'resnet'.*mlp, pirate"):
        ModelConfig(arch="resnet").validate()
    with pytest.raises(ValueError, match=r"model\.fourier_features"):
        resolve("burgers", sets={"model.arch": "pirate", "model.width": 16, "model.fourier_features": 8})
    with pytest.raises(ValueError, match=r"model\.arch"):
        resolve("burgers", sets={"model.arch": "kan"})
    with pytest.raises(ValueError, match=r"model\.fourier_features"):
        make_model(ModelConfig(arch="pirate", width=16, fourier_features=8), _domain(2), 1)
    ModelConfig(arch="pirate", width=16, fourier_features=16).validate()
    ModelConfig(arch="mlp", width=15, fourier_features=32).validate()  # the mlp has no such constraint


PIRATE = {"model.arch": "pirate", "model.width": 16, "model.depth": 2, "model.rwf": True,
          "points_scale": 0.125, "eval_every": 40, "lr": 1e-2, "stationary": False}


def _pirate_count(width, depth, d_out):
    dense = lambda a, b: a * b + 2 * b  # rwf: W, b, s
    return 2 * dense(width, width) + depth * (3 * dense(width, width) + 1) + dense(width, d_out)


def test_training_a_pirate_net_with_adapters_reduces_the_loss():
    """(Plain PirateNet training is covered by the vmapped-seeds test below.)"""
    cfg = resolve("poisson-2d-k1", "adam", "adapters", 0, steps=120, sets=PIRATE)
    out = train(cfg)
    assert out.status == "ok", out.error
    losses = [r["loss_total"] for r in out.curves]
    assert [r["step"] for r in out.curves][-1] == 120
    assert losses[-1] < 0.5 * losses[0]
    assert out.n_net_params == _pirate_count(16, 2, 1)
    net = out.carry.params["net"]
    assert any(abs(float(b["alpha"])) > 1e-3 for b in net["trunk"]["blocks"])  # the blocks were switched on
    assert out.n_params > out.n_net_params
    moved = sum(float(jnp.linalg.norm(layer["b"])) for per in net["adapters"] for layer in per)
    assert moved > 0  # the adapters learned once α left 0


def test_vmapped_seeds_of_a_pirate_net_train():
    cfgs = [resolve("poisson-2d-k1", "adam", "none", s, steps=40, sets={**PIRATE, "eval_every": 20}) for s in (0, 1)]
    outs = train_seeds(cfgs)
    assert [o.status for o in outs] == ["ok", "ok"] and outs[0].seeds_batched == 2
    for o in outs:
        assert o.curves[-1]["loss_total"] < o.curves[0]["loss_total"]
        assert any(abs(float(b["alpha"])) > 1e-3 for b in o.carry.params["net"]["blocks"])  # blocks switched on
    assert outs[0].curves[-1]["loss_total"] != outs[1].curves[-1]["loss_total"]  # distinct initialisations
    assert not np.array_equal(outs[0].carry.buffers["B"], outs[1].carry.buffers["B"])


def test_the_engine_builds_a_pirate_net_from_the_run_config():
    s = build(resolve("burgers", "soap", "none", 0, steps=2, sets=PIRATE))
    assert s.cfg.model.arch == "pirate" and s.n_net_params == _pirate_count(16, 2, 1)
    c = s.init_carry
    assert c.buffers["B"].shape == (2, 8)
    L = s.loss_vector(c.params, c.buffers, c.batch)
    assert L.shape == (s.problem.n_losses,) and bool(jnp.all(jnp.isfinite(L)))


# ---------------------------------------------------------------- physics-informed initialisation

def _pi_builds(problem, remedy="none", **extra):
    sets = {**PIRATE, "stationary": False, **extra}
    plain = build(resolve(problem, "adam", remedy, 0, steps=2, sets=sets))
    fitted = build(resolve(problem, "adam", remedy, 0, steps=2, sets={**sets, "model.pi_init": True}))
    return plain, fitted


def _losses(s):
    c = s.init_carry
    # jitted: op-by-op (eager) evaluation of a PirateNet's residuals compiles every primitive on its own
    return dict(zip(s.problem.loss_names, np.asarray(jax.jit(s.loss_vector)(c.params, c.buffers, c.batch), np.float64)))


def test_pi_init_fits_the_initial_condition_by_least_squares():
    plain, fitted = _pi_builds("burgers")
    L0, L1 = _losses(plain), _losses(fitted)
    assert L1["initial"] < 0.01 * L0["initial"], (L0, L1)  # a 100-fold smaller initial-condition loss
    assert np.isfinite(L1["residual"]) and L1["residual"] < 10 * L0["residual"]  # no blow-up off t = 0

    # the fitted layer is the least-squares optimum of pirate_init's objective: ∇ at the fit ≈ 0
    problem, model, c = fitted.problem, fitted.model, fitted.init_carry
    net, buffers, theta = c.params["net"], c.buffers, c.params["pde"]
    data = pirate_init.fit_data(problem, pirate_init.fitting_key(jax.random.split(jax.random.PRNGKey(0))[0]),
                                fitted.cfg.batch, c.batch)
    assert [t.name for t in data.terms] == ["initial"]
    assert float(jnp.max(data.shifts[0])) > 0.5  # extended over the time interval [0, 1]
    r, n = pirate_init.residual_fn(model, net, buffers, theta, data)
    flat = lambda p: jnp.concatenate([jnp.ravel(a) for a in pirate_init.output_layer(p)])
    grad = jax.grad(lambda w: jnp.sum(r(w) ** 2))
    g_fit, g_glorot = grad(flat(net)), grad(flat(plain.init_carry.params["net"]))
    assert float(jnp.linalg.norm(g_fit)) < 1e-2 * float(jnp.linalg.norm(g_glorot))

    # ... and, written out independently in NumPy: u(τ_j, x_j) = Φ(τ_j, x_j) W + b against
    # u₀(x_j) = −sin(π x_j), the same value as NumPy's least squares (same cut-off) gives
    pts = np.asarray(data.batches[0]["x"], np.float64)
    pts[:, 0] += np.asarray(data.shifts[0], np.float64)
    A = np.stack([np.append(_embedding(buffers, problem.domain, p), 1.0) for p in pts])
    y = -np.sin(np.pi * pts[:, 1])
    w_np = np.linalg.lstsq(A, y, rcond=pirate_init.RCOND)[0]
    W, b = (np.asarray(a, np.float64) for a in pirate_init.output_layer(net))
    fit_obj = np.mean((A @ np.append(W[:, 0], b) - y) ** 2)
    np_obj = np.mean((A @ w_np - y) ** 2)
    assert fit_obj < 1e-2 * np.mean(y ** 2)
    np.testing.assert_allclose(fit_obj, np_obj, rtol=0.05, atol=1e-7)
    u_net = jax.vmap(lambda x: model.apply(net, buffers, x))(jnp.asarray(pts, jnp.float32))
    np.testing.assert_allclose(np.asarray(u_net)[:, 0], A @ np.append(W[:, 0], b), rtol=1e-4, atol=1e-4)


def test_pi_init_changes_only_the_output_layer():
    plain, fitted = _pi_builds("burgers")
    p0, p1 = plain.init_carry.params, fitted.init_carry.params
    out0, out1 = p0["net"]["out"], p1["net"]["out"]
    assert set(out0) == set(out1) == {"s", "v", "b"}  # stored factorised like every layer (rwf)
    assert np.array_equal(out0["s"], out1["s"])  # the scales keep their draw: V = W / exp(s)
    assert not np.allclose(out0["v"], out1["v"]) and not np.allclose(out0["b"], out1["b"])
    rest = lambda p: {**p, "net": {k: v for k, v in p["net"].items() if k != "out"}}
    for a, b in zip(jax.tree_util.tree_leaves(rest(p0)), jax.tree_util.tree_leaves(rest(p1))):
        assert np.array_equal(a, b)  # gates, blocks, α = 0, PDE parameters
    for a, b in zip(jax.tree_util.tree_leaves((plain.init_carry.buffers, plain.init_carry.batch)),
                    jax.tree_util.tree_leaves((fitted.init_carry.buffers, fitted.init_carry.batch))):
        assert np.array_equal(a, b)  # Fourier matrix and training points: the fit uses its own key
    assert all(float(blk["alpha"]) == 0.0 for blk in p1["net"]["blocks"])


def test_pi_init_rule_data_terms_and_adapters():
    from pinnarena import problems

    roles = lambda name: {t.role for t in pirate_init.fit_terms(problems.get(name))}
    assert roles("burgers") == {"initial"} and roles("kdv") == {"initial"}  # time-dependent: the IC
    assert roles("burgers-inv") == {"data"} and roles("ldc-re100") == {"boundary"}

    # an inverse problem fits its own observations (the run's data batch, no new samples)
    plain, fitted = _pi_builds("poisson-inv")
    L0, L1 = _losses(plain), _losses(fitted)
    assert L1["data"] < 0.05 * L0["data"], (L0, L1)
    k = fitted.problem.loss_names.index("data")

    def out_grad(s):  # ∇ of the training data loss with respect to the output layer (V, b)
        c = s.init_carry
        g = jax.jit(jax.grad(lambda p: s.loss_vector(p, c.buffers, c.batch)[k]))(c.params)["net"]["out"]
        return float(jnp.sqrt(jnp.sum(g["v"] ** 2) + jnp.sum(g["b"] ** 2)))

    assert out_grad(fitted) < 1e-2 * out_grad(plain)  # the optimum on the very points training uses

    # with per-loss adapters the trunk's output layer is fitted and the adapters are left alone
    plain, fitted = _pi_builds("poisson-2d-k1", remedy="adapters")
    n0, n1 = plain.init_carry.params["net"], fitted.init_carry.params["net"]
    for a, b in zip(jax.tree_util.tree_leaves(n0["adapters"]), jax.tree_util.tree_leaves(n1["adapters"])):
        assert np.array_equal(a, b)
    assert _losses(fitted)["boundary"] < 1e-3 * _losses(plain)["boundary"]  # u = 0 on the boundary


def test_pi_init_needs_the_pirate_net():
    with pytest.raises(ValueError, match=r"model\.pi_init.*model\.arch: pirate.*'mlp'"):
        ModelConfig(arch="mlp", pi_init=True).validate()
    with pytest.raises(ValueError, match=r"model\.pi_init.*model\.arch"):
        resolve("burgers", sets={"model.pi_init": True})
    with pytest.raises(ValueError, match=r"model\.pi_init must be true or false"):
        resolve("burgers", sets={"model.arch": "pirate", "model.pi_init": "yes"})
    assert resolve("burgers", sets={"model.arch": "pirate", "model.pi_init": True}).model.pi_init
    assert not resolve("burgers", sets={"model.arch": "pirate"}).model.pi_init  # off by default
