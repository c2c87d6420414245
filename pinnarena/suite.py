"""A suite config → its studies and training jobs; shared by the workflow and the cost estimate.

A suite (``config/*.yaml``, schema ``workflow/schemas/config.schema.yaml``) has ``defaults`` and
``studies``; a study's settings are the defaults overridden by the study's own keys, with the two
``set`` maps merged key by key. A study crosses ``problems`` × ``optimizers`` × ``remedies``
(``all``: every registered name, minus the study's ``exclude``) × ``seeds``.

``select`` (optional) runs a slice of a suite without editing it::

    snakemake --configfile config/standard.yaml \
        --config 'select={"studies": ["optimizers"], "optimizers": ["adam", "soap"]}'

Each of ``studies`` / ``problems`` / ``optimizers`` / ``remedies`` given is a list of names, and a
job is kept when its value is in every list given. A selected job's run config is the same as in
the whole suite (same run id), so a slice and the whole suite share results.

A study with ``tune`` (see :func:`tune_spec` and pinnarena/tuning.py) first tunes every cell on
its tuning seeds (:func:`tuning_cells`; results under ``runs/tuning/<study>/…``), then trains the
chosen setting on the study's ``seeds``, the held-out seeds that :func:`jobs` lists.
"""
from __future__ import annotations

KINDS = ("problems", "optimizers", "remedies")
SELECT_KEYS = ("studies",) + KINDS


def _registry(kind: str):
    from pinnarena import optimizers, problems, remedies

    return {"problems": problems, "optimizers": optimizers, "remedies": remedies}[kind]


def study(config: dict, name: str) -> dict:
    """The settings of study ``name``: ``defaults`` overridden by the study, ``set`` merged."""
    defaults = config.get("defaults", {})
    s = dict(config["studies"][name])
    merged = {**defaults, **s}
    merged["set"] = {**defaults.get("set", {}), **s.get("set", {})}
    dp, sp = defaults.get("problem_set", {}), s.get("problem_set", {})
    merged["problem_set"] = {p: {**dp.get(p, {}), **sp.get(p, {})} for p in {*dp, *sp}}
    return merged


def _valid_remedy(name: str) -> bool:
    from pinnarena.remedies import parts

    try:
        parts(name)
        return True
    except (KeyError, ValueError):
        return False


def _unknown(kind: str, names) -> list[str]:
    """The names that are not registered ``kind`` (composed remedies count when every part is)."""
    known = set(_registry(kind).names())
    return sorted(n for n in set(names)
                  if n not in known and not (kind == "remedies" and "+" in n and _valid_remedy(n)))


def expand(s: dict, kind: str) -> list[str]:
    """The names of ``kind`` that study settings ``s`` cross (``all`` expanded, names checked)."""
    value = s[kind]
    if value == "all":
        skip = set(s.get("exclude", {}).get(kind, []))
        return [n for n in _registry(kind).names() if n not in skip]
    unknown = _unknown(kind, value)
    if unknown:
        raise ValueError(f"config: unknown {kind} {unknown}; accepted: {_registry(kind).names()}")
    return list(value)


def selection(config: dict) -> dict[str, set[str]]:
    """``config["select"]`` checked: {key: set of names} for the keys given."""
    sel = config.get("select") or {}
    if not isinstance(sel, dict):
        raise ValueError(f"config: select must be a mapping with keys among {list(SELECT_KEYS)}, got {sel!r}")
    bad = sorted(set(sel) - set(SELECT_KEYS))
    if bad:
        raise ValueError(f"config: select has unknown keys {bad}; accepted: {list(SELECT_KEYS)}")
    out = {}
    for key, names in sel.items():
        if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
            raise ValueError(f"config: select.{key} must be a non-empty list of names, got {names!r}")
        known = list(config["studies"]) if key == "studies" else _registry(key).names()
        unknown = sorted(set(names) - set(known)) if key == "studies" else _unknown(key, names)
        if unknown:
            raise ValueError(f"config: select.{key} has unknown names {unknown}; accepted: {known}")
        out[key] = set(names)
    return out


TUNE_DEFAULTS = {"trials": 5, "seed": 0, "seeds": [1000], "select": "val_rel_l2"}


def tune_spec(s: dict) -> dict | None:
    """A study's ``tune`` block with defaults (``trials`` 5, Sobol ``seed`` 0, tuning ``seeds``
    [1000], ``select`` val_rel_l2; optional ``keys`` and ``base``), checked; None if untuned.

    The held-out ``seeds`` must differ from the tuning seeds, and the selection metric must not be
    the test error (pinnarena/tuning.py).
    """
    from pinnarena import tuning

    if not s.get("tune"):
        return None
    t = {**TUNE_DEFAULTS, **s["tune"]}
    tuning.check_seeds(t["seeds"], s.get("seeds", [0]))
    if t["select"] not in tuning.SELECT_METRICS:
        raise ValueError(f"config: tune.select {t['select']!r} is not one of {tuning.SELECT_METRICS}")
    if t["select"] == "val_rel_l2" and not s["set"].get("validation_fraction", 0) > 0:
        raise ValueError("config: tune.select val_rel_l2 needs set.validation_fraction > 0 (a validation point set)")
    if s.get("group", "cell") != "cell":
        raise ValueError("config: a tuned study runs one job per cell (group: cell)")
    return t


def hparams_source(config: dict, name: str) -> str | None:
    """``hparams_from`` of study ``name``: the tuned study whose selections its runs take, checked
    (it must be a study of the suite, tuned, and this study untuned, with held-out seeds that
    differ from that study's tuning seeds); None when the study has none."""
    from pinnarena import tuning

    s = study(config, name)
    base = s.get("hparams_from")
    if not base:
        return None
    if base not in config["studies"]:
        raise ValueError(f"config: study {name!r}: hparams_from {base!r} is not a study of the suite "
                         f"(studies: {', '.join(config['studies'])})")
    t = tune_spec(study(config, base))
    if t is None:
        raise ValueError(f"config: study {name!r}: hparams_from {base!r} is not a tuned study (it has no tune block)")
    if tune_spec(s) is not None:
        raise ValueError(f"config: study {name!r} both tunes and takes hparams_from {base!r}; set `tune: {{}}`")
    tuning.check_seeds(t["seeds"], s.get("seeds", [0]))
    return base


def n_trials(s: dict, optimizer: str, remedy: str) -> int:
    """How many trials a tuned cell has: ``tune.trials``, or 1 when its space is empty."""
    from pinnarena import tuning

    t = tune_spec(s)
    return len(tuning.trial_settings(optimizer, remedy, t["trials"], t["seed"], t.get("keys")))


def tuning_cells(config: dict) -> list[dict]:
    """The (study, problem, optimizer, remedy) cells of the selected tuned studies."""
    cells = {}
    for j in jobs(config):
        if tune_spec(study(config, j["study"])) is not None:
            key = (j["study"], j["problem"], j["optimizer"], j["remedy"])
            cells[key] = dict(zip(("study", "problem", "optimizer", "remedy"), key))
    return list(cells.values())


def jobs(config: dict) -> list[dict]:
    """Every selected (study, problem, optimizer, remedy, seed) of the suite, in a stable order."""
    sel = selection(config)
    keep = lambda key, name: key not in sel or name in sel[key]
    out = []
    for name in config["studies"]:
        if not keep("studies", name):
            continue
        s = study(config, name)
        for p in expand(s, "problems"):
            for o in expand(s, "optimizers"):
                for r in expand(s, "remedies"):
                    if keep("problems", p) and keep("optimizers", o) and keep("remedies", r):
                        out += [dict(study=name, problem=p, optimizer=o, remedy=r, seed=seed)
                                for seed in s.get("seeds", [0])]
    return out


def _check_positive_int(value, what: str, unit: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"config: {what} must be a positive integer ({unit}), got {value!r}")


def problem_batches(config: dict, name: str) -> list[list[str]] | None:
    """The problem batches of a ``group: problem`` study with ``batch: N``, else None.

    One job trains N problems in turn (each problem's whole optimizer × remedy cross, as
    ``group: problem`` does), in one process: at smoke size a job's fixed cost (Python, JAX and
    the problem library's imports, about 3 s of CPU) is a third of its work. Batches are
    consecutive runs of the study's selected problems in the study's order. Per-problem
    settings (``problem_set``) would give the problems of one job different settings; a batched
    study refuses them.
    """
    s = study(config, name)
    size = s.get("batch")
    if size is None:
        return None
    if s.get("group", "cell") != "problem":
        raise ValueError(f"config: study {name!r}: batch needs group: problem (one job trains whole problems)")
    _check_positive_int(size, f"study {name!r}: batch", "problems per job")
    if s["problem_set"]:
        raise ValueError(f"config: study {name!r}: batch cannot be combined with problem_set "
                         f"({sorted(s['problem_set'])}): one job trains its problems with one set of settings")
    selected = {j["problem"] for j in jobs(config) if j["study"] == name}
    names = [p for p in expand(s, "problems") if p in selected]
    return [names[i:i + size] for i in range(0, len(names), size)]


def reference_tier(config: dict, name: str) -> str:
    """The reference tier (smoke | standard | paper) of study ``name``'s runs (its ``set``)."""
    return study(config, name)["set"].get("reference_tier", "standard")


def needs_reference_file(problem: str) -> bool:
    """Whether ``problem``'s reference is a solver's file (analytic and manufactured ones are
    evaluated inside the run)."""
    from pinnarena import problems

    return problems.get(problem).reference_kind not in ("analytic", "manufactured")


def reference_batches(config: dict) -> list[tuple[str, list[str]]] | None:
    """With ``reference_batch: N`` (top level), the solver references of the selected jobs as
    (tier, problems) batches of at most N, one process each; else None (one job per reference).

    At smoke size a reference is ~0.1–5 s of solver work against ~2.7 s of CPU for a process's
    imports (jax, scipy, the problem library), so a job that builds several pays that once. The
    batches list each tier's problems in the order the suite first needs them.
    """
    size = config.get("reference_batch")
    if size is None:
        return None
    _check_positive_int(size, "reference_batch", "references per job")
    by_tier: dict[str, list[str]] = {}
    for study_name, problem in dict.fromkeys((j["study"], j["problem"]) for j in jobs(config)):
        names = by_tier.setdefault(reference_tier(config, study_name), [])
        if problem not in names and needs_reference_file(problem):
            names.append(problem)
    return [(tier, names[i:i + size]) for tier, names in by_tier.items() for i in range(0, len(names), size)]
