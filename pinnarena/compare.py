"""Rank new runs among published ones without rerunning: ``pinnarena report NEW --baseline BASE --out DIR``.

The new results (a user's runs of a new optimizer or remedy, e.g. its slice of
``config/cpu.yaml``) are joined to the baseline snapshot (``results/published/cpu``) and the
report is rendered from the union, with the baseline's targets, the same scorer and the same
figures; the new methods carry a "new" badge in every table and one highlight colour in every
figure.

Refusal. The union is only fair when the new runs used the suite's settings. For every problem
of the new runs, the resolved ``config`` JSON of each new summary row (flattened to dotted keys,
e.g. ``model.width``) must equal that of some baseline row of the same problem, except for the
keys that name or tune the method (:data:`METHOD_KEYS`: optimizer, remedy, their
hyper-parameters, the learning-rate shorthand, seed, study, suite, problem) and bookkeeping
(checkpointing). So model, precision, point counts, steps, time budget and its clock, evaluation
cadence, validation split and reference tier must agree. The tuning protocol must agree too:
the number of trials per tuned cell and the tuning seeds (from the ``tuning`` rows), and the
held-out seeds. Anything else raises :class:`SettingsMismatch` naming each differing setting with
both values. Under a time budget the CPU model is a setting too: a budget buys each method a
different amount of work on another CPU (pinnarena.cpu_model: 1.1-1.6x between two EPYC
generations), so new time-budgeted runs on another CPU model than the baseline's rows of the
problem are refused unless ``allow_other_cpu`` (``--allow-other-cpu``), and then the report
names the problem as not comparable.

New rows of a method already in the baseline (same study, optimizer and remedy) are not added
(the baseline's runs stand); rows whose ``run_id`` the baseline has are the same runs and are
dropped. A new study name the baseline lacks (e.g. ``adhoc`` from a plain ``pinnarena run``) is
mapped to the baseline study whose settings the rows match.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pinnarena.aggregate import cpu_models, leaderboard, load_results, method_name, ranked_rows, tuning_rows

METHOD_KEYS = {"optimizer", "remedy", "opt", "remedy_hp", "lr", "seed", "study", "suite", "problem"}
BOOKKEEPING_KEYS = {"checkpoint_every"}


class SettingsMismatch(ValueError):
    """The new runs' suite settings differ from the baseline's (the message names each one)."""


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def settings(config_json) -> dict | None:
    """The comparable settings of a row's resolved config JSON (None when the row has none)."""
    if config_json is None or (isinstance(config_json, float) and np.isnan(config_json)) or config_json == "":
        return None
    d = json.loads(config_json) if isinstance(config_json, str) else dict(config_json)
    drop = METHOD_KEYS | BOOKKEEPING_KEYS
    return {k: v for k, v in _flat({k: v for k, v in d.items() if k not in drop}).items()}


def _diff(a: dict, b: dict) -> list[str]:
    keys = sorted(set(a) | set(b))
    return [f"{k} = {json.dumps(a.get(k, '(unset)'))} in the new runs, {json.dumps(b.get(k, '(unset)'))} in the "
            "baseline" for k in keys if a.get(k, "(unset)") != b.get(k, "(unset)")]


def _protocol(rows: pd.DataFrame, tun: pd.DataFrame, study: str) -> dict:
    out = {"held-out seeds": sorted(int(s) for s in rows["seed"].dropna().unique())}
    t = tun[tun["tuning_of"] == study] if len(tun) and "tuning_of" in tun else tun.iloc[0:0]
    if len(t) and "trial" in t:
        per = t.groupby(["problem", "optimizer", "remedy"])["trial"].nunique()
        out["tuning trials per cell"] = sorted(int(x) for x in per.unique())
        out["tuning seeds"] = sorted(int(s) for s in t["seed"].dropna().unique())
    else:
        out["tuning trials per cell"] = "none (no tuning rows)"
        out["tuning seeds"] = "none"
    return out


def _cpu_mismatch(g: pd.DataFrame, b: pd.DataFrame) -> str | None:
    """The CPU models of new rows ``g`` that the baseline rows ``b`` of the problem lack, when time-budgeted."""
    timed = g["budget_seconds"].notna().any() if "budget_seconds" in g else False
    mine, theirs = set(cpu_models(g)), set(cpu_models(b))
    if not timed or mine <= theirs:
        return None
    return (f"CPU model = {' / '.join(sorted(mine - theirs))} in the new runs, {' / '.join(sorted(theirs))} in the "
            "baseline (a time budget buys each method a different amount of work on another CPU; "
            "--allow-other-cpu ranks them anyway, marked not comparable)")


def check_settings(new: pd.DataFrame, base: pd.DataFrame, allow_other_cpu: bool = False) -> tuple[dict, list[str]]:
    """(study mapping new → baseline, problems) after checking the settings; raises
    :class:`SettingsMismatch` naming every differing setting."""
    new_r, base_r = ranked_rows(new), ranked_rows(base)
    new_t, base_t = tuning_rows(new), tuning_rows(base)
    problems: list[str] = []
    errors: list[str] = []
    mapping: dict = {}
    if new_r.empty:
        raise SettingsMismatch("the new results hold no ranked runs (only tuning trials or nothing)")
    base_studies = set(base_r["study"].fillna("default")) if "study" in base_r else {"default"}
    new_r = new_r.assign(study=new_r["study"].fillna("default") if "study" in new_r else "default")
    base_r = base_r.assign(study=base_r["study"].fillna("default") if "study" in base_r else "default")
    for (study, prob), g in new_r.groupby(["study", "problem"], sort=True):
        problems.append(prob)
        b = base_r[base_r["problem"] == prob]
        if b.empty:
            errors.append(f"problem {prob}: not in the baseline (it has {', '.join(sorted(base_r['problem'].unique()))})")
            continue
        cand = b[b["study"] == study] if study in base_studies else b
        cpu = None if allow_other_cpu else _cpu_mismatch(g, cand)
        if cpu:
            errors.append(f"problem {prob} (study {study}): {cpu}")
        for cfg in g["config"].dropna().unique() if "config" in g else []:
            s_new = settings(cfg)
            base_cfgs = [(st, settings(c)) for st, c in cand[["study", "config"]].dropna().drop_duplicates().itertuples(
                index=False)] if "config" in cand else []
            base_cfgs = [(st, c) for st, c in base_cfgs if c is not None]
            if s_new is None or not base_cfgs:
                continue
            match = [st for st, c in base_cfgs if c == s_new]
            if match:
                if study not in base_studies:
                    mapping.setdefault(study, match[0])
                continue
            st, closest = min(base_cfgs, key=lambda sc: len(_diff(s_new, sc[1])))
            errors.append(f"problem {prob} (study {study}): " + "; ".join(_diff(s_new, closest)))
            break
    for study in sorted(new_r["study"].unique()):
        target = mapping.get(study, study)
        if target not in base_studies:
            if not errors:
                errors.append(f"study {study}: the baseline has no study {study!r} and no settings match "
                              f"(baseline studies: {', '.join(sorted(base_studies))})")
            continue
        pn = _protocol(new_r[new_r.study == study], new_t, study)
        pb = _protocol(base_r[base_r.study == target], base_t, target)
        for k in pn:
            if pn[k] != pb[k]:
                errors.append(f"study {study}: {k} = {pn[k]} in the new runs, {pb[k]} in the baseline")
    if errors:
        raise SettingsMismatch("the new runs' suite settings differ from the baseline's, so they cannot be ranked "
                               "together (rerun them with the suite's settings, e.g. the slice of config/cpu.yaml):\n  "
                               + "\n  ".join(errors))
    return mapping, sorted(set(problems))


def baseline_targets(base_board: pd.DataFrame | None, base: pd.DataFrame, base_curves: pd.DataFrame) -> dict:
    """The baseline's per-problem targets (from its leaderboard, else aggregated from its rows)."""
    if base_board is None or "target" not in base_board:
        base_board = leaderboard(base, base_curves)
    t = base_board.drop_duplicates("problem")
    out = {r.problem: {"rel_l2": float(r.target), "provenance": str(r.target_provenance)}
           for r in t.itertuples() if np.isfinite(float(r.target))}
    if "target_literature" in t:  # boards written before the column have none
        for r in t.itertuples():
            if r.problem in out and np.isfinite(float(r.target_literature)):
                out[r.problem]["literature"] = float(r.target_literature)
    return out


def combine(new: pd.DataFrame, new_curves: pd.DataFrame, base: pd.DataFrame, base_curves: pd.DataFrame,
            mapping: dict) -> tuple[pd.DataFrame, pd.DataFrame, set, list[str]]:
    """(summaries, curves, new method names, notes) of the union."""
    notes = []
    new = new.copy()
    if "study" not in new:
        new["study"] = "default"
    new["study"] = new["study"].fillna("default")
    for a, b in mapping.items():
        new.loc[new["study"] == a, "study"] = b
        if "tuning_of" in new:
            new.loc[new["tuning_of"] == a, "tuning_of"] = b
        notes.append(f"new study {a!r} is ranked in the baseline's study {b!r} (same settings)")
    dup = new["run_id"].isin(set(base["run_id"]))
    if dup.any():
        notes.append(f"{int(dup.sum())} new run(s) are baseline runs (same run id) and were not added twice")
    new = new[~dup]
    key = lambda d: set(zip(d["study"].fillna("default"), d["optimizer"], d["remedy"]))  # noqa: E731
    base_keys = key(ranked_rows(base))
    ranked = ranked_rows(new)
    have = [k for k in key(ranked) if k in base_keys]
    if have:
        notes.append("already in the baseline, its runs kept: " + ", ".join(sorted(method_name(o, r) for _, o, r in have)))
        drop = ranked.index[[(s, o, r) in base_keys for s, o, r in zip(ranked["study"], ranked["optimizer"],
                                                                          ranked["remedy"])]]
        new = new.drop(index=drop)
        tun = tuning_rows(new)
        if len(tun) and "tuning_of" in tun:
            drop_t = tun.index[[(s, o, r) in base_keys for s, o, r in zip(tun["tuning_of"], tun["optimizer"],
                                                                            tun["remedy"])]]
            new = new.drop(index=drop_t)
    new_methods = {method_name(o, r) for o, r in zip(ranked_rows(new)["optimizer"], ranked_rows(new)["remedy"])}
    summaries = pd.concat([base, new], ignore_index=True, sort=False)
    nc = new_curves[new_curves["run_id"].isin(set(new["run_id"]))] if len(new_curves) and "run_id" in new_curves \
        else new_curves
    curves = pd.concat([base_curves, nc], ignore_index=True, sort=False) if len(nc) else base_curves
    return summaries, curves, new_methods, notes


def compare_report(new: str | os.PathLike, baseline: str | os.PathLike, out: str | os.PathLike,
                   targets=None, allow_other_cpu: bool = False) -> list[Path]:
    """Render the report of NEW ranked among BASELINE into OUT; raises :class:`SettingsMismatch`."""
    from pinnarena.report import render

    new_s, new_c = load_results(new)
    base_s, base_c = load_results(baseline)
    if base_s.empty:
        raise SettingsMismatch(f"the baseline {baseline} holds no runs")
    if new_s.empty:
        raise SettingsMismatch(f"the new results {new} hold no runs")
    mapping, _ = check_settings(new_s, base_s, allow_other_cpu=allow_other_cpu)
    lb = Path(baseline) / "leaderboard.parquet"
    if targets is not None and not isinstance(targets, dict):
        from pinnarena.scoring import load_targets

        suite = str(base_s["suite"].dropna().iloc[0]) if base_s["suite"].notna().any() else None
        targets = load_targets(targets, suite)
    tg = targets if isinstance(targets, dict) else baseline_targets(pd.read_parquet(lb) if lb.exists() else None,
                                                                      base_s, base_c)
    summaries, curves, new_methods, notes = combine(new_s, new_c, base_s, base_c, mapping)
    if targets is None and not lb.exists():  # say so: these are not the published report's targets
        notes.append(f"the baseline has no leaderboard.parquet, so its targets are derived from its adam + none "
                     f"runs, not a targets file (pass --targets config/targets.yaml for the suite's)")
    board = leaderboard(summaries, curves, tg)
    note = (f"Comparison: {len(ranked_rows(summaries)) - len(ranked_rows(base_s))} new ranked run(s) from {new} "
            f"among the baseline {baseline} (its targets, scoring and settings; checked: identical resolved configs "
            f"apart from the method, and the same tuning protocol)." + (" " + "; ".join(notes) + "." if notes else ""))
    return render(board, summaries, curves, Path(out), new_methods=new_methods, comparison_note=note)


__all__ = ["compare_report", "check_settings", "SettingsMismatch", "settings", "combine"]
