"""Navier–Stokes reference solvers: cavity vs Ghia et al. (1982), Kolmogorov flow budgets and
convergence, and the smoke-tier references of every new problem.

Tolerances (measured values in comments):
* cavity, classic lid, 129² nodes, vs Ghia Tables I/II at Re = 100/400/1000: max |error| < 2e-2
  (measured 8.4e-3 / 3.2e-3 / 1.1e-2; Re = 400 without the misprinted v(0.9063) entry);
* Kolmogorov: divergence < 1e-12; energy budget mismatch < 1e-3 of the largest budget term
  (measured 3e-5 at 64²); Re = 1000 over t ∈ [0, 0.25], 128² vs 256²: velocity < 1e-2 and
  vorticity < 5e-2 of their maxima (measured 1.8e-3 and 2.4e-2).

The references verify themselves while being built (problems/ldc.py and problems/kolmogorov.py,
constants ``TOL_*`` with their measurements): the tests below check that a failing check raises
and a passing build records ``provenance["verification"]``; the high-Re checks are ``slow``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinnarena import problems
from pinnarena.problem import VerificationError, verify
from pinnarena.problems import kolmogorov as kolmo
from pinnarena.problems import ldc
from pinnarena.problems.solvers import cavity
from pinnarena.problems.solvers import kolmogorov as K

LDC_NAMES = [f"ldc-re{r}" for r in ldc.REYNOLDS]
KOLMO_NAMES = ["kolmogorov-re100", "kolmogorov-re1000", "kolmogorov-re10000"]


# ----------------------------------------------------------------------------- cavity
def test_ghia_table_is_complete_and_cross_checked():
    for re in ldc.REYNOLDS:
        g = ldc.ghia_centreline(re, errata=False)
        assert len(g["values"]) == 30  # 15 interior points on each centreline
        assert np.all(np.abs(g["values"]) < 1.0)
    # spot values, checked against the paper's tables (independent transcriptions agree)
    g = ldc.ghia_centreline(100)
    at = {(tuple(p), o): v for p, o, v in zip(g["points"], g["output"], g["values"])}
    assert at[((0.5, 0.1719), 0)] == -0.10150
    assert at[((0.5, 0.5), 0)] == -0.20581
    assert ldc.ghia_centreline(1000)["values"].min() == -0.51550
    assert len(ldc.ghia_centreline(10000)["values"]) == 29  # misprinted u(0.5) dropped


def test_cavity_matches_ghia_classic_lid():
    sols = cavity.solve_cavity_path([100.0, 400.0, 1000.0], N=128, lid="classic")
    errors = {}
    for sol in sols:
        g = ldc.ghia_centreline(int(sol["Re"]))
        names = ("u", "v")
        got = np.array([cavity.interpolate(sol, names[k], p[None])[0] for p, k in zip(g["points"], g["output"])])
        errors[int(sol["Re"])] = np.abs(got - g["values"]).max()
    assert all(e < 2e-2 for e in errors.values()), errors
    # the discretisation is not trivially "close": the primary vortex strength matches Ghia's
    # Table V psi_min = -0.103423 (Re = 100) and -0.117929 (Re = 1000) to 3 %
    assert abs(sols[0]["psi"].min() / -0.103423 - 1) < 0.03
    assert abs(sols[2]["psi"].min() / -0.117929 - 1) < 0.03


def _momentum_residual(sol, Re):
    """Interior x-momentum residual of the solver's (u, v, p) by independent finite differences."""
    h = sol["x"][1] - sol["x"][0]
    u, v, p = sol["u"], sol["v"], sol["p"]
    ux, uy = np.gradient(u, h, edge_order=2)
    px, _ = np.gradient(p, h, edge_order=2)
    uxx = np.gradient(ux, h, axis=0)
    uyy = np.gradient(uy, h, axis=1)
    r = u * ux + v * uy + px - (uxx + uyy) / Re
    n = len(sol["x"])
    k = n // 6  # stay away from the walls, where np.gradient is one-sided
    return np.abs(r[k:-k, k:-k]).max()


def test_cavity_discrete_equations_and_pressure():
    sols = {N: cavity.solve_cavity(100.0, N=N) for N in (48, 96)}
    sol = sols[48]
    h = 1.0 / 48
    u, v, p = sol["u"], sol["v"], sol["p"]
    # continuity holds for the derived velocities (central differences of ψ commute)
    div = (u[2:, 1:-1] - u[:-2, 1:-1]) / (2 * h) + (v[1:-1, 2:] - v[1:-1, :-2]) / (2 * h)
    assert np.abs(div[1:-1, 1:-1]).max() < 1e-8
    assert p[0, 0] == 0.0 and np.isfinite(p).all()
    # no-slip and the smoothed lid
    assert np.allclose(u[:, 0], 0) and np.allclose(v[:, -1], 0)
    assert np.allclose(u[:, -1], cavity.smoothed_lid(sol["x"]))
    # the momentum equation with the recovered pressure holds to second order
    r48, r96 = _momentum_residual(sols[48], 100.0), _momentum_residual(sols[96], 100.0)
    assert r96 < r48 / 2.5, (r48, r96)
    assert r96 < 0.02


# ----------------------------------------------------------------------------- Kolmogorov
def test_kolmogorov_divergence_free_and_energy_budget():
    s, saved, diag = kolmo.simulate(1000.0, 64, [0.0, 0.5], t_end=0.5)
    assert diag["divergence_max"] < 1e-12
    assert diag["energy_budget_max_rel_mismatch"] < 1e-3
    # the budget is not trivially satisfied: energy changes over the window
    E = [s.energy(saved[t]) for t in (0.0, 0.5)]
    assert abs(E[1] - E[0]) > 1e-4
    # and a wrong dissipation (ν doubled in the budget only) violates it
    s2 = K.Kolmogorov(64, 1e-3, 0.1)
    wh = saved[0.5]
    h = 1e-3
    E0, E2 = s2.energy(wh), s2.energy(s2.step(s2.step(wh, h), h))
    P, Dv, A = s2.budget(s2.step(wh, h))
    dEdt = (E2 - E0) / (2 * h)
    assert abs(dEdt - (P - Dv - A)) < 1e-4 * abs(P)
    assert abs(dEdt - (P - 2 * Dv - A)) > 10 * abs(dEdt - (P - Dv - A))


def test_kolmogorov_resolution_convergence_re1000_short_window():
    times = [0.0, 0.125, 0.25]
    s1, sv1, _ = kolmo.simulate(1000.0, 128, times, t_end=0.25)
    s2, sv2, _ = kolmo.simulate(1000.0, 256, times, t_end=0.25)
    _, v1 = kolmo._sample(s1, sv1, times, 4)
    _, v2 = kolmo._sample(s2, sv2, times, 8)
    rel = np.abs(v1 - v2).max(axis=0) / np.abs(v2).max(axis=0)
    assert rel[0] < 1e-2 and rel[1] < 1e-2 and rel[2] < 5e-2, rel


@pytest.mark.slow
def test_kolmogorov_resolution_convergence_re1000_full_window():
    times = [0.0, 0.5, 1.0]
    s1, sv1, _ = kolmo.simulate(1000.0, 256, times)
    s2, sv2, _ = kolmo.simulate(1000.0, 512, times)
    _, v1 = kolmo._sample(s1, sv1, times, 4)
    _, v2 = kolmo._sample(s2, sv2, times, 8)
    rel = np.abs(v1 - v2).max(axis=0) / np.abs(v2).max(axis=0)
    assert rel.max() < 5e-2, rel


def test_kolmogorov_initial_series_matches_grid():
    s, wh, _ = kolmo.initial_state(1000.0)
    kx, ky, c = kolmo.initial_modes(1000.0)
    u, v, w = s.fields(wh)
    i, j = np.array([3, 17, 40]), np.array([60, 5, 33])
    th = kx[None] * s.x[i, None] + ky[None] * s.x[j, None]
    series = np.cos(th) @ c[:, :, 0] + np.sin(th) @ c[:, :, 1]
    np.testing.assert_allclose(series, np.c_[u[i, j], v[i, j], w[i, j]], atol=1e-10)


@pytest.mark.slow
def test_cavity_matches_ghia_classic_lid_high_re():
    """Re = 3200 … 10⁴ on 257² (classic lid, one continuation path), against the reference rule's
    tolerance (measured 0.035 / 0.014 / 0.013 / 0.020; the rule itself uses 513²: 0.045 / 0.017 /
    0.023 / 0.028)."""
    sols = {int(s["Re"]): s for s in cavity.solve_cavity_path(cavity.continuation_path(10000.0), 256, "classic")}
    errors = {}
    for re in (3200, 5000, 7500, 10000):
        sol = sols[re]
        g = ldc.ghia_centreline(re)
        errors[re] = np.abs(ldc._at(sol, g["points"], g["output"]) - g["values"]).max()
    assert all(e < ldc.TOL_GHIA_MAX_ABS[re] for re, e in errors.items()), errors


def test_cavity_grid_sequencing_gives_the_continuation_solution():
    path = cavity.continuation_path(1000.0)
    direct = cavity.solve_cavity_path(path, 64)[-1]
    coarse = cavity.solve_cavity_path(path, 32)[-1]
    seq = cavity.solve_cavity_path([1000.0], 64, initial=coarse)[-1]
    assert seq["newton_iterations"][-1] < sum(direct["newton_iterations"])
    for k in ("u", "v", "p"):
        np.testing.assert_allclose(seq[k], direct[k], atol=1e-10)


def test_cavity_grid_sequencing_falls_back(monkeypatch):
    """If Newton from the N/2 solution at the target Re fails, start one Re earlier; then continuation."""
    path = cavity.continuation_path(1000.0)
    coarse = cavity.solve_cavity_path(path, 32)
    real = cavity.solve_cavity_path

    def flaky(res, N, lid="smoothed", tol=1e-9, initial=None, max_iter=40):
        if initial is not None and len(res) == 1:
            raise RuntimeError("no convergence")
        return real(res, N, lid, tol, initial, max_iter)

    monkeypatch.setattr(cavity, "solve_cavity_path", flaky)
    sol, how = ldc._solve(path, 64, "smoothed", coarse)
    assert how == "grid sequencing from N/2 at Re = 400" and sol["Re"] == 1000.0
    sol2, how2 = ldc._solve(path, 64, "smoothed", coarse[-1:])
    assert how2 == "continuation in Re"
    np.testing.assert_allclose(sol["u"], sol2["u"], atol=1e-10)


# ----------------------------------------------------------------------------- verification
def test_verify_records_and_raises():
    rec = verify({"a": (1e-3, 1e-2), "b": ("not computed for this tier", 1.0, False), "c": (5.0, 1.0, False)})
    assert rec["a"] == {"value": 1e-3, "tolerance": 1e-2, "passed": True}
    assert rec["b"]["passed"] is None and rec["b"]["value"] is None and "tier" in rec["b"]["note"]
    assert rec["c"]["passed"] is False and rec["c"]["enforced"] is False  # measured, not enforced
    with pytest.raises(VerificationError, match=r"a = 0\.5 exceeds tolerance 0\.01"):
        verify({"a": (0.5, 1e-2), "b": (0.0, 1.0)})
    with pytest.raises(VerificationError, match="a: not computed"):  # never silently passed
        verify({"a": (None, 1e-2)})
    with pytest.raises(VerificationError, match="exceeds"):
        verify({"a": (float("nan"), 1e-2)})


def test_cavity_full_build_records_verification():
    ref = ldc.build_reference(100.0, 96, full=True)  # 97² vs 49², classic lid vs Ghia on 97²
    ver = ref.provenance["verification"]
    assert set(ver) == {"newton_residual", "ghia1982_classic_lid_max_abs", "self_convergence_rel_l2_uv_vs_N/2",
                        "self_convergence_rel_l2_p_vs_N/2"}
    assert all(v["passed"] is True for v in ver.values()), ver
    assert ref.provenance["initial_guess"] == "grid sequencing from N/2"
    # the smoke tier records what it did not compute instead of passing it
    smoke = ldc.build_reference(100.0, 48, full=False).provenance["verification"]
    assert smoke["newton_residual"]["passed"] is True
    assert smoke["self_convergence_rel_l2_uv_vs_N/2"]["passed"] is None


def test_cavity_verification_fails_loudly(monkeypatch, tmp_path, capsys):
    from pinnarena import cli

    # a genuinely too coarse grid: 65² vs 33² at Re = 100 (uv 0.035 > 0.03, p 0.18 > 0.15)
    with pytest.raises(VerificationError, match=r"Re = 100, grid 65².*self_convergence_rel_l2_uv_vs_N/2 = 0\.03"):
        ldc.build_reference(100.0, 64, full=True)
    monkeypatch.setattr(ldc, "TOL_NEWTON_RESIDUAL", 0.0)
    with pytest.raises(VerificationError, match="newton_residual = .* exceeds tolerance 0"):
        ldc.build_reference(100.0, 48, full=False)
    # the reference rule's command fails and writes nothing
    out = tmp_path / "ref.npz"
    assert cli.main(["reference", "ldc-re100", "--tier", "smoke", "--out", str(out)]) != 0
    assert "newton_residual" in capsys.readouterr().err and not out.exists()
    monkeypatch.undo()
    prov = ldc.build_reference(100.0, 48, full=False).provenance
    failed = "N/2 solve failed: no convergence"  # a failed coarse solve, as build_reference records it
    prov["self_convergence_rel_l2_vs_N/2"] = {"uv": failed, "p": failed}
    with pytest.raises(VerificationError, match="self_convergence_rel_l2_uv_vs_N/2: not computed"):
        ldc.verify_reference(prov, 100.0, enforce=True)
    prov["self_convergence_rel_l2_vs_N/2"] = {"uv": 0.5, "p": 0.01}
    prov["ghia1982"]["solver_classic_vs_ghia_max_abs"] = 0.01
    with pytest.raises(VerificationError, match="self_convergence_rel_l2_uv_vs_N/2 = 0.5 exceeds"):
        ldc.verify_reference(prov, 100.0, enforce=True)


def test_kolmogorov_verification(monkeypatch):
    ref = kolmo.build_reference(1000.0, "smoke")
    ver = ref.provenance["verification"]
    assert ver["divergence_rel"]["passed"] and ver["energy_budget_max_rel_mismatch"]["passed"]
    assert ver["resolution_rel_l2_omega_vs_M/2"]["passed"] is None  # no M/2 run at the smoke tier
    assert ver["spectrum_tail_ratio"]["enforced"] is False
    prov = dict(ref.provenance, **{"resolution_check_rel_l2_vs_M/2": {"u": 1e-3, "v": 1e-3, "omega": 0.3},
                                   "spectrum_tail_ratio": 1e-8})
    with pytest.raises(VerificationError, match="resolution_rel_l2_omega_vs_M/2 = 0.3 exceeds tolerance 0.1"):
        kolmo.verify_reference(prov, 1000.0, full=True)
    monkeypatch.setattr(kolmo, "TOL_ENERGY_BUDGET", 0.0)
    with pytest.raises(VerificationError, match="energy_budget_max_rel_mismatch"):
        kolmo.build_reference(1000.0, "smoke")


@pytest.mark.slow
def test_kolmogorov_resolution_doubling_re10000():
    """What the standard reference rule checks at Re = 10⁴: 256² vs 512² over the whole window."""
    times = [float(t) for t in np.round(np.linspace(0.0, kolmo.T_END, 11), 10)]
    s1, sv1, _ = kolmo.simulate(10000.0, 256, times)
    s2, sv2, d2 = kolmo.simulate(10000.0, 512, times)
    _, v1 = kolmo._sample(s1, sv1, times, 4)
    _, v2 = kolmo._sample(s2, sv2, times, 8)
    rel = np.linalg.norm(v1 - v2, axis=0) / np.linalg.norm(v2, axis=0)
    assert all(r < kolmo.TOL_RESOLUTION[k] for r, k in zip(rel, ("u", "v", "omega"))), rel
    spec = s2.spectrum(sv2[times[-1]])
    assert spec[512 // 3] / spec[1:].max() < kolmo.TOL_SPECTRUM_TAIL
    assert d2["divergence_max"] / d2["vorticity_max"] < kolmo.TOL_DIVERGENCE_REL
    assert d2["energy_budget_max_rel_mismatch"] < kolmo.TOL_ENERGY_BUDGET


# ----------------------------------------------------------------------------- problems
@pytest.mark.parametrize("name", LDC_NAMES + KOLMO_NAMES)
def test_smoke_reference_and_metadata(name):
    prob = problems.get(name)
    meta = prob.metadata()
    assert meta["name"] == name and meta["reference"] == prob.reference_kind != "analytic"
    ref = prob.reference("smoke")
    assert ref.points.shape[1] == prob.input_dim and ref.values.shape[1] == prob.output_dim
    assert np.isfinite(ref.values).all() and len(ref.points) > 1000
    lo, hi = map(np.asarray, prob.domain)
    assert np.all(ref.points >= lo - 1e-12) and np.all(ref.points <= hi + 1e-12)
    if name.startswith("ldc"):
        assert meta["kind"] == "forward" and meta["n_losses"] == 3
        assert meta["output_names"] == ["u", "v", "p"]
        assert "ghia1982" in ref.provenance
        assert set(prob.eval_sets(ref)) == {"ghia1982", "ghia1982-solver-smoothed"}
    else:
        assert meta["kind"] == ("forward" if name.endswith("re100") else "turbulent")
        assert meta["n_losses"] == 4 and meta["time_dependent"]
        assert ref.provenance["divergence_max"] < 1e-12
        assert prob.eval_sets is None


# ----------------------------------------------------------------------------- runs
def test_run_reports_error_on_the_ghia_sets(tmp_path, monkeypatch):
    """rel_l2_sets: each seed of a vmapped batch gets its own network's error on both ldc sets (as a
    direct evaluation gives it), the row fits the schema, and it is null without sets."""
    import types

    import jax
    import jax.numpy as jnp
    import pyarrow.parquet as pq

    from pinnarena.config import resolve
    from pinnarena.results import summary_table, write_parquet_atomic
    from pinnarena.runner import _eval_sets, _finished_row
    from pinnarena.training import train_seeds

    monkeypatch.setenv("PINNARENA_REFERENCE_DIR", str(tmp_path / "refs"))
    tiny = {"model.width": 16, "model.depth": 2, "eval_every": 10, "points_scale": 0.125,
            "reference_tier": "smoke", "stationary": False}
    cfgs = [resolve("ldc-re100", "adam", "none", seed, steps=20, sets=tiny) for seed in (0, 1)]
    outcomes = train_seeds(cfgs)
    found = []
    for cfg, res in zip(cfgs, outcomes):
        row = _finished_row(cfg, res)
        sets = row["rel_l2_sets"]
        assert set(sets) == {"ghia1982", "ghia1982-solver-smoothed"}
        g = res.problem.eval_sets(res.problem.reference("smoke"))["ghia1982"]
        net, bufs = res.carry.params["net"], res.carry.buffers
        pred = np.asarray(jax.vmap(lambda x: res.setup.model.apply(net, bufs, x))(jnp.asarray(g.points, res.setup.ref_data[0].dtype)))
        want = np.linalg.norm(pred[np.arange(len(g.output)), g.output] - g.values) / np.linalg.norm(g.values)
        np.testing.assert_allclose(sets["ghia1982"], want, rtol=1e-4)
        assert all(np.isfinite(v) and v > 0 for v in sets.values())
        write_parquet_atomic(summary_table(row), tmp_path / f"s{cfg.seed}" / "summary.parquet")
        found.append(dict(pq.read_table(tmp_path / f"s{cfg.seed}" / "summary.parquet").to_pandas()["rel_l2_sets"].iloc[0]))
    assert found[0] != found[1]  # each seed's own network
    # a problem without sets: null in the row and in the file
    res = types.SimpleNamespace(problem=problems.get("poisson-2d-k1"))
    assert res.problem.eval_sets is None and _eval_sets(cfgs[0], res) is None
    write_parquet_atomic(summary_table({"run_id": "x", "status": "ok", "rel_l2_sets": None}), tmp_path / "p.parquet")
    assert pd.read_parquet(tmp_path / "p.parquet")["rel_l2_sets"].isna().all()
