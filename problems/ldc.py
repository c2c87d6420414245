r"""Lid-driven cavity: steady incompressible Navier–Stokes on the unit square.

    (u·∇)u + ∇p − (1/Re)∇²u = 0,   ∇·u = 0,   (x, y) ∈ [0, 1]²,
    u = (1 − cosh(50(x − 0.5))/cosh 25, 0) on the lid y = 1, u = 0 on the other walls.

The smoothed lid removes the corner singularities of the classic problem (u = 1 on the whole lid,
Ghia, Ghia & Shin 1982) so that a PINN can represent the boundary data. Slugs ``ldc-re{Re}`` for
Re ∈ {100, 400, 1000, 3200, 5000, 7500, 10000} (kind ``forward``: the flows are steady).

Inputs (x, y); outputs (u, v, p). K = 3 loss terms:

* ``continuity``: u_x + v_y;
* ``momentum``: both components (x and y) of the momentum residual as one term (a 2-vector per
  point), so the conflict measured is between mass, momentum and boundary data;
* ``boundary``: (u − u_wall, v, p(0, 0)) on the four walls. p enters the equations only through
  ∇p, so the pressure gauge p(0, 0) = 0 (the reference's) is part of the boundary term.

Reference: problems/solvers/cavity.py (streamfunction–vorticity, second-order central
differences, Newton with continuation in Re), smoothed lid, on an (N+1)² grid with N = 48
(smoke), 256 (standard), 384 (paper); values on every ⌈N/128⌉-th node. The provenance records
Newton iterations, the self-convergence against the N/2 solution, and the Ghia centreline set
(``ghia_centreline``): the published classic-lid values, this solver's classic-lid values at the
same points (verification) and its smoothed-lid values there (what the PINN should match).
"""
from __future__ import annotations

import csv
import functools
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, box_faces, uniform_box
from pinnarena.problems import register
from pinnarena.problems.solvers import cavity

LO, HI = (0.0, 0.0), (1.0, 1.0)
REYNOLDS = (100, 400, 1000, 3200, 5000, 7500, 10000)
GRID = {"smoke": 48, "standard": 256, "paper": 384}
GHIA_CSV = Path(__file__).parent / "data" / "ghia1982.csv"
# (Re, line, coord) entries of the published tables that are misprints (see ghia1982.csv)
GHIA_ERRATA = {(10000, "u_vertical", 0.5), (400, "v_horizontal", 0.9063)}


@functools.lru_cache(maxsize=None)
def _ghia_rows():
    with open(GHIA_CSV) as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return tuple((int(r["re"]), r["line"], float(r["coord"]), float(r["value"])) for r in rows)


def ghia_centreline(re: int, errata: bool = True) -> dict:
    """Ghia et al. (1982) centreline data at ``re`` as an evaluation set for (u, v, p) outputs.

    Returns ``points`` (k × 2, (x, y)), ``output`` (k,) index of the compared output (0 = u on the
    vertical centreline x = 0.5, 1 = v on the horizontal centreline y = 0.5) and ``values`` (k,).
    Wall points (where the value is boundary data) are left out. With ``errata`` the two known
    misprints (Re = 10000 u(0.5) printed positive; Re = 400 v(0.9063) out of the profile) are
    dropped. The values are for the classic lid u = 1, not the smoothed lid of the benchmark.
    """
    pts, out, vals = [], [], []
    for r, line, c, val in _ghia_rows():
        if r != int(re) or c in (0.0, 1.0) or (errata and (r, line, c) in GHIA_ERRATA):
            continue
        if line == "u_vertical":
            pts.append((0.5, c)); out.append(0)
        else:
            pts.append((c, 0.5)); out.append(1)
        vals.append(val)
    if not vals:
        raise ValueError(f"Ghia et al. (1982) tabulate Re in {REYNOLDS}, not {re}")
    return {"points": np.asarray(pts), "output": np.asarray(out), "values": np.asarray(vals)}


def _at(sol, pts, output):
    names = ("u", "v", "p")
    return np.array([cavity.interpolate(sol, names[k], p[None])[0] for p, k in zip(pts, output)])


def build_reference(Re: float, N: int, stride: int | None = None, with_ghia: bool = True,
                    self_convergence: bool = True, verify_classic: bool = True) -> Reference:
    """The smoothed-lid reference on every ``stride``-th node of an (N+1)² grid (see module doc).

    ``self_convergence`` also solves on the N/2 grid and records the largest difference per
    output (skipped for the smoke tier, whose N/2 = 24 grid cannot resolve the lid profile);
    ``verify_classic`` also solves the classic-lid problem and compares it with Ghia's tables.
    """
    stride = stride or max(1, N // 128)
    path = cavity.continuation_path(Re)
    sol = cavity.solve_cavity_path(path, N, "smoothed")[-1]
    xs = sol["x"][::stride]
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    pts = np.c_[X.ravel(), Y.ravel()]
    vals = np.stack([sol[k][::stride, ::stride].ravel() for k in ("u", "v", "p")], axis=-1)
    diff = "not computed"
    if self_convergence:
        try:
            coarse = cavity.solve_cavity_path(path, N // 2, "smoothed")[-1]
            cv = np.stack([cavity.interpolate(coarse, k, pts) for k in ("u", "v", "p")], axis=-1)
            diff = dict(zip(("u", "v", "p"), map(float, np.abs(cv - vals).max(axis=0))))
        except RuntimeError as e:  # the coarse grid may have no converged solution at high Re
            diff = f"N/2 solve failed: {e}"
    prov = {
        "solver": "cavity streamfunction-vorticity, 2nd-order central differences, Newton + sparse LU",
        "lid": "smoothed: 1 - cosh(50(x-0.5))/cosh(25)",
        "Re": float(Re), "grid": [N + 1, N + 1], "stride": stride, "continuation": path,
        "newton_iterations": sol["newton_iterations"], "residual": sol["residual"],
        "seconds": round(sol["seconds"], 2), "pressure_gauge": "p(0, 0) = 0",
        "self_convergence_max_abs_vs_N/2": diff,
    }
    if with_ghia and int(Re) in REYNOLDS and float(Re) == int(Re):
        g = ghia_centreline(int(Re))
        prov["ghia1982"] = {
            "source": "Ghia, Ghia & Shin, J. Comput. Phys. 48 (1982), Tables I-II (classic lid u = 1)",
            "points": g["points"].tolist(), "output": g["output"].tolist(),
            "values": g["values"].tolist(),
            "solver_smoothed_lid": _at(sol, g["points"], g["output"]).tolist(),
        }
        # verification of the solver itself: the classic lid at the same resolution vs the tables
        try:
            if not verify_classic:
                raise RuntimeError("not computed for this tier")
            classic = cavity.solve_cavity_path(path, N, "classic")[-1]
            solver_classic = _at(classic, g["points"], g["output"])
            prov["ghia1982"]["solver_classic_lid"] = solver_classic.tolist()
            prov["ghia1982"]["solver_classic_vs_ghia_max_abs"] = float(np.abs(solver_classic - g["values"]).max())
        except RuntimeError as e:  # coarse grids have no converged classic-lid solution at high Re
            prov["ghia1982"]["solver_classic_vs_ghia_max_abs"] = f"classic-lid solve: {e}"
    return Reference(pts, vals, provenance=prov)


def _lid(x):
    return 1.0 - jnp.cosh(50.0 * (x - 0.5)) / jnp.cosh(25.0)


def ldc(name: str, Re: float) -> Problem:
    nu = 1.0 / Re

    def continuity(u, p, theta):
        x = p["x"]
        ux = D.d(u, x, 0)
        uy = D.d(u, x, 1)
        return ux[0:1] + uy[1:2]

    def momentum(u, p, theta):
        x = p["x"]
        w, wx, wxx = D.taylor(u, x, 0, 2)
        _, wy, wyy = D.taylor(u, x, 1, 2)
        adv = w[0] * wx[:2] + w[1] * wy[:2]
        grad_p = jnp.stack([wx[2], wy[2]])
        return adv + grad_p - nu * (wxx[:2] + wyy[:2])

    def boundary(u, p, theta):
        x = p["x"]
        w = u(x)
        target = jnp.where(x[1] >= 1.0, _lid(x[0]), 0.0)
        gauge = u(jnp.zeros_like(x))[2]
        return jnp.stack([w[0] - target, w[1], gauge])

    def reference(tier: str = "standard"):
        full = tier != "smoke"
        return build_reference(Re, GRID[tier], self_convergence=full, verify_classic=full)

    return Problem(
        name=name,
        family="ldc",
        kind="forward",
        description=f"steady lid-driven cavity, Re = {Re:g}, smoothed lid (reference: Newton FD solver)",
        input_names=("x", "y"),
        output_names=("u", "v", "p"),
        domain=(LO, HI),
        terms=(
            Term("continuity", uniform_box(LO, HI), continuity, n=2048),
            Term("momentum", uniform_box(LO, HI), momentum, n=2048),
            Term("boundary", box_faces(LO, HI), boundary, n=512),
        ),
        reference_fn=reference,
        params={"Re": float(Re), "lid": "1 - cosh(50(x-0.5))/cosh(25)"},
        time_dependent=False,
        reference_kind="cavity-newton-fd",
    )


for _re in REYNOLDS:
    register(f"ldc-re{_re}", functools.partial(ldc, f"ldc-re{_re}", float(_re)))
