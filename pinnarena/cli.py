"""Command line: ``pinnarena list|run|aggregate|report`` (also ``python -m pinnarena``)."""
from __future__ import annotations

import argparse
import json
import sys


def _list(args) -> int:
    if args.what == "problems":
        from pinnarena import problems

        items = [problems.get(n).metadata() for n in problems.names()]
        if args.json:
            print(json.dumps(items, indent=1))
        else:
            w = max(len(i["name"]) for i in items)
            for i in items:
                print(f"{i['name']:<{w}}  {i['kind']:<12} K={i['n_losses']}  {i['description']}")
        return 0
    if args.what == "optimizers":
        from pinnarena import optimizers as reg

        items = [{"name": n, **reg.REGISTRY.meta(n), "hyperparameters": reg.hyperparameters(n)} for n in reg.names()]
    else:
        from pinnarena import remedies as reg

        items = [{"name": n, **reg.REGISTRY.meta(n), "hyperparameters": reg.hyperparameters(n)} for n in reg.names()]
    from pinnarena.search_space import describe

    for i in items:
        if "search_space" in i:
            i["search_space"] = describe(i["search_space"])
    if args.json:
        print(json.dumps(items, indent=1, default=str))
    elif args.search_space:
        for i in items:
            space = i.get("search_space")
            text = "(declares none)" if space is None else (", ".join(f"{k} {v}" for k, v in space.items()) or
                                                           "(nothing to tune: one trial)")
            print(f"{i['name']:<20} {i.get('family', ''):<16} {text}")
    else:
        for i in items:
            hp = ", ".join(f"{k}={v}" for k, v in i["hyperparameters"].items())
            print(f"{i['name']:<20} {i.get('family', ''):<14} {hp}")
    return 0


def enable_compilation_cache() -> None:
    """JAX's persistent compilation cache in $PINNARENA_JAX_CACHE (default results/.jax-cache; 'off')."""
    import os

    where = os.environ.get("PINNARENA_JAX_CACHE", "results/.jax-cache")
    if where.lower() in ("off", "none", ""):
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", os.path.abspath(where))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _named_sets(items, what: str) -> dict[str, dict]:
    """``NAME:key=value`` items → {NAME: {key: value}} (per-optimizer / per-remedy settings)."""
    from pinnarena.config import parse_sets

    out: dict[str, dict] = {}
    for item in items or []:
        name, sep, kv = item.partition(":")
        if not sep:
            raise ValueError(f"--{what}-set expects NAME:key=value, got {item!r}")
        out.setdefault(name, {}).update(parse_sets([kv]))
    return out


def _run(args) -> int:
    """Train the cross optimizers × remedies of one problem, each cell's seeds together.

    One optimizer and one remedy: results in OUT (OUT/seed<S>/ for several seeds or
    --seed-dirs). Several: OUT/<optimizer>/<remedy>/seed<S>/. Several problems (a suite's
    ``batch``: one process, so imports and discovery are paid once) train one after another,
    each problem in OUT/<problem>/ (and CHECKPOINT/<problem>/) laid out as above. Every
    configuration of every problem is validated before anything is compiled.
    """
    from pinnarena.config import parse_sets, resolve
    from pinnarena.tuning import read_hparams

    try:
        selection = _selection(args.hparams_from)
        sets = {**parse_sets(args.set), **read_hparams(args.hparams_from)}
        if args.suite:
            sets["suite"] = args.suite
        if args.study:
            sets["study"] = args.study
        opt_sets, rem_sets = _named_sets(args.opt_set, "opt"), _named_sets(args.remedy_set, "remedy")
        for names, given, what in ((args.optimizer, opt_sets, "opt"), (args.remedy, rem_sets, "remedy")):
            stray = sorted(set(given) - set(names))
            if stray:
                raise ValueError(f"--{what}-set names {stray} that are not being run ({names})")
        if len(set(args.problem)) != len(args.problem):
            raise ValueError(f"--problem names a problem twice: {args.problem}")
        several = len(args.problem) > 1
        cells = []  # (output folder, checkpoint folder, the cell's seed configs)
        for problem in args.problem:
            out = f"{args.out}/{problem}" if several else args.out
            ckpt = f"{args.checkpoint}/{problem}" if several and args.checkpoint else args.checkpoint
            for opt in args.optimizer:
                for rem in args.remedy:
                    cell_sets = {**sets, **{f"opt.{k}": v for k, v in opt_sets.get(opt, {}).items()},
                                 **{f"remedy.{k}": v for k, v in rem_sets.get(rem, {}).items()}}
                    cells.append((out, ckpt, [resolve(problem, opt, rem, seed, steps=args.steps, sets=cell_sets)
                                              for seed in args.seed]))
    except (ValueError, KeyError) as e:
        print(f"pinnarena run: error: {e}", file=sys.stderr)
        return 2
    from pinnarena.runner import run_seeds

    enable_compilation_cache()
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    crossed = len(args.optimizer) * len(args.remedy) > 1 or args.cell_dirs
    worst = 0
    for out, ckpt_root, cfgs in cells:
        base = f"{out}/{cfgs[0].optimizer}/{cfgs[0].remedy}" if crossed else out
        ckpt_base = (f"{ckpt_root}/{cfgs[0].optimizer}/{cfgs[0].remedy}" if crossed else ckpt_root) if ckpt_root else None
        per_seed_dirs = crossed or len(cfgs) > 1 or args.seed_dirs
        outs = [f"{base}/seed{c.seed}" for c in cfgs] if per_seed_dirs else [base]
        batches = [list(zip(cfgs, outs))] if args.vmap_seeds else [[pair] for pair in zip(cfgs, outs)]
        for batch in batches:
            ckpt = None
            if ckpt_base:
                ckpt = ckpt_base if len(batches) == 1 else f"{ckpt_base}/seed{batch[0][0].seed}"
            meta = [{"trial": selection["trial"], "hparams": json.dumps(selection["hparams"], sort_keys=True)}
                    if selection else {} for _ in batch]
            rows = run_seeds([c for c, _ in batch], [o for _, o in batch], log=log, checkpoint_dir=ckpt, meta=meta)
            for row in rows:
                print(json.dumps({k: row.get(k) for k in ("run_id", "problem", "optimizer", "remedy", "seed", "status", "rel_l2", "train_seconds", "error")}))
                if args.strict and row["status"] != "ok":
                    worst = 1
    return worst


def _selection(paths) -> dict | None:
    """The last ``--hparams-from`` selection file (the chosen trial of a tuned cell), if any."""
    if not paths:
        return None
    with open(paths[-1]) as f:
        return json.load(f)


def _finished(path: str, run_id: str) -> bool:
    """Whether ``path`` holds the finished row of ``run_id`` (a trial kept for resuming), written
    by code with today's summary columns. A trial kept from older code (another schema, e.g.
    before ``linesearch_rejections``, which came with a change to the line-search arithmetic) is
    trained again: its row could not be concatenated with the new trials' anyway."""
    import os

    import pyarrow.parquet as pq

    from pinnarena.results import SUMMARY_SCHEMA

    if not os.path.exists(path):
        return False
    if not pq.read_schema(path).equals(SUMMARY_SCHEMA, check_metadata=False):
        print(f"pinnarena tune: {path} was written with other summary columns (older code): training it again",
              file=sys.stderr)
        return False
    return pq.read_table(path, columns=["run_id"]).column(0).to_pylist() == [run_id]


def _tune(args) -> int:
    """The trials of one tuned cell (pinnarena/tuning.py): ``OUT/summary.parquet`` and
    ``OUT/curves.parquet`` (every trial × tuning seed, study ``tuning``) and ``OUT/selected.json``.

    Trial k's seeds train together (vmapped). Each finished trial is kept in the work folder
    (``--checkpoint``, else ``OUT/.trials``) as ``trial<k>/seed<S>/trial-{summary,curves}.parquet``
    (names that ``read_summaries`` does not collect), so a killed job resumes at the next trial.
    """
    import os

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pinnarena import search_space, tuning
    from pinnarena.config import parse_sets, resolve
    from pinnarena.results import write_parquet_atomic

    try:
        fixed = {**parse_sets(args.set), **tuning.read_hparams(args.hparams_from)}
        if args.select not in tuning.SELECT_METRICS:
            raise ValueError(f"--select {args.select!r} is not one of {tuning.SELECT_METRICS}")
        settings = tuning.trial_settings(args.optimizer, args.remedy, args.trials, args.trial_seed, args.keys)
        # trials skip the post-hoc stationary-point classification (it is not used for selection)
        fixed.update(suite=args.suite or "adhoc", study="tuning", stationary=False)
        plan = [[resolve(args.problem, args.optimizer, args.remedy, seed, steps=args.steps, sets={**fixed, **hp})
                 for seed in args.seed] for hp in settings]
    except (ValueError, KeyError) as e:
        print(f"pinnarena tune: error: {e}", file=sys.stderr)
        return 2
    from pinnarena.runner import run_seeds

    enable_compilation_cache()
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    work = args.checkpoint or f"{args.out}/.trials"
    summaries, curves = [], []
    for k, (hp, cfgs) in enumerate(zip(settings, plan)):
        dirs = [f"{work}/trial{k}/seed{c.seed}" for c in cfgs]
        if not all(_finished(f"{d}/trial-summary.parquet", c.run_id) for d, c in zip(dirs, cfgs)):
            meta = [{"trial": k, "tuning_of": args.study, "hparams": json.dumps(hp, sort_keys=True)} for _ in cfgs]
            run_seeds(cfgs, dirs, log=log, checkpoint_dir=f"{work}/trial{k}/checkpoint", meta=meta)
            for d in dirs:
                for name in ("summary", "curves"):
                    os.replace(f"{d}/{name}.parquet", f"{d}/trial-{name}.parquet")
        summaries += [pq.read_table(f"{d}/trial-summary.parquet") for d in dirs]
        curves += [pd.read_parquet(f"{d}/trial-curves.parquet") for d in dirs]
    table = pa.concat_tables(summaries)
    sel = tuning.select(table.select(["trial", "status", args.select]).to_pylist(), args.select)
    sel.update(hparams={**tuning.read_hparams(args.hparams_from), **settings[sel["trial"]]},
               trials=settings, tuning_seeds=list(args.seed), trial_seed=args.trial_seed, study=args.study,
               space=search_space.describe(tuning.cell_space(args.optimizer, args.remedy, args.keys)))
    write_parquet_atomic(pd.concat(curves, ignore_index=True), f"{args.out}/curves.parquet")
    write_parquet_atomic(table, f"{args.out}/summary.parquet")
    tuning.write_selection(f"{args.out}/selected.json", sel)
    print(json.dumps({"problem": args.problem, "optimizer": args.optimizer, "remedy": args.remedy,
                      "trial": sel["trial"], "score": sel["score"], "hparams": sel["hparams"]}, default=float))
    return 0


def _reference(args) -> int:
    """Build one reference into ``--out`` (a file), or several into ``--out-dir`` (one process:
    the imports are paid once; each file is ``<problem>--<tier>.npz``, as ``references.path_for``)."""
    from pathlib import Path

    from pinnarena import problems
    from pinnarena.references import build, path_for, save

    if len(args.problem) > 1 and args.out is not None:
        print(f"pinnarena reference: error: --out names one file, but {len(args.problem)} problems were given "
              f"({' '.join(args.problem)}); use --out-dir DIR for several", file=sys.stderr)
        return 2
    try:
        probs = [problems.get(name) for name in args.problem]  # every name checked before any solver runs
        for prob in probs:
            ref = build(prob, args.tier)
            path = Path(args.out) if args.out else path_for(prob.name, args.tier, args.out_dir and Path(args.out_dir))
            save(ref, path)
            print(json.dumps({"problem": prob.name, "tier": args.tier, "path": str(path),
                              "points": list(ref.points.shape), "provenance": ref.provenance}, default=str), flush=True)
    except (ValueError, KeyError) as e:
        print(f"pinnarena reference: error: {e}", file=sys.stderr)
        return 2
    return 0


def _aggregate(args) -> int:
    from pinnarena.aggregate import write_leaderboard

    df = write_leaderboard(args.results, args.out, targets=args.targets)
    print(f"wrote {args.out or args.results + '/leaderboard.parquet'} ({len(df)} rows)")
    return 0


def _targets(args) -> int:
    """Print the field-median targets of a study's runs as YAML entries for config/targets.yaml."""
    import datetime

    import yaml

    from pinnarena.aggregate import field_median_targets, load_results

    rows, _ = load_results(args.results, curves=False)
    if rows.empty or args.study not in set(rows.get("study", [])):
        known = sorted(set(rows["study"]) - {"tuning"}) if not rows.empty else []
        print(f"pinnarena targets: error: no held-out rows of study {args.study!r} in {args.results} "
              f"(studies there: {known})", file=sys.stderr)
        return 2
    found = field_median_targets(rows, args.study)
    where = f"{args.results}, {datetime.date.today().isoformat()}"
    entries = {p: {"rel_l2": t["rel_l2"], "provenance": f"{t['provenance']}; {where}"} for p, t in sorted(found.items())}
    print(yaml.safe_dump(entries, sort_keys=False, width=1000), end="")
    return 0


def _report(args) -> int:
    from pinnarena.report import write_report

    if args.baseline:
        from pinnarena.compare import SettingsMismatch, compare_report

        try:
            paths = compare_report(args.results, args.baseline, args.out, targets=args.targets,
                                   allow_other_cpu=args.allow_other_cpu)
        except SettingsMismatch as e:
            print(f"pinnarena report: refused: {e}", file=sys.stderr)
            return 2
        for p in paths:
            print(f"wrote {p}")
        return 0
    paths = write_report(args.results, args.out, targets=args.targets)
    for p in paths:
        print(f"wrote {p}")
    return 0


def _publish(args) -> int:
    from pinnarena.report import publish

    paths = publish(args.results, args.out, args.report, targets=args.targets)
    for p in paths:
        print(f"wrote {p}")
    return 0


def _reproduce(args) -> int:
    """Retrain a published row and print the published and new errors side by side."""
    from pinnarena import affinity
    from pinnarena.reproduce import cpu_note, find, reproduce, threads_for

    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    try:
        row = find(args.run_id, args.source)[0]
        cores = args.cores if args.cores is not None else threads_for(row)
        if cores is None:
            print("pinnarena reproduce: the row does not record its cores (cpu_threads); running on "
                  f"{affinity.cpu_threads()} (XLA's CPU arithmetic depends on it; set --cores)", file=sys.stderr)
        else:
            affinity.restrict(cores)  # before JAX starts its thread pool
        rows = reproduce(args.run_id, args.source, log=log)
    except (ValueError, KeyError) as e:
        print(f"pinnarena reproduce: error: {e}", file=sys.stderr)
        return 2
    print(f"{'metric':<12} {'published':>24} {'reproduced':>24} {'relative difference':>20}")
    for r in rows:
        print(f"{r['metric']:<12} {r['published']:>24.17g} {r['reproduced']:>24.17g} {r['relative_difference']:>20.3g}")
    worst = max((r["relative_difference"] for r in rows), default=0.0)
    agree = worst <= args.rtol
    note = cpu_note(row)
    if note:
        print(note)
    print(f"{'agree' if agree else 'DIFFER'}: largest relative difference {worst:.3g} (tolerance {args.rtol:g})")
    return 0 if agree else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pinnarena", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    pl = sub.add_parser("list", help="list problems, optimizers or remedies")
    pl.add_argument("what", choices=["problems", "optimizers", "remedies"])
    pl.add_argument("--json", action="store_true", help="print a JSON array")
    pl.add_argument("--search-space", action="store_true",
                    help="optimizers/remedies: the declared tuning space of each (pinnarena/search_space.py)")
    pl.set_defaults(func=_list)

    pr = sub.add_parser("run", help="train one job and write summary.parquet and curves.parquet")
    pr.add_argument("--problem", required=True, nargs="+",
                    help="one or more problems (several: trained in turn, each in DIR/<problem>/)")
    pr.add_argument("--optimizer", nargs="+", default=["adam"], help="one or more (crossed with --remedy)")
    pr.add_argument("--remedy", nargs="+", default=["none"], help="one or more (crossed with --optimizer)")
    pr.add_argument("--opt-set", action="append", metavar="NAME:KEY=VALUE",
                    help="hyper-parameter of one optimizer of the cross (repeatable)")
    pr.add_argument("--remedy-set", action="append", metavar="NAME:KEY=VALUE",
                    help="hyper-parameter of one remedy of the cross (repeatable)")
    pr.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds (several: DIR/seed<S>/)")
    pr.add_argument("--vmap-seeds", action=argparse.BooleanOptionalAction, default=True,
                    help="train several seeds in one vmapped program (default) or one after another")
    pr.add_argument("--seed-dirs", action="store_true", help="write DIR/seed<S>/ even for a single seed")
    pr.add_argument("--cell-dirs", action="store_true",
                    help="write DIR/<optimizer>/<remedy>/seed<S>/ even for a single optimizer and remedy")
    pr.add_argument("--checkpoint", default=None, metavar="DIR",
                    help="resume from / periodically save a checkpoint in DIR (removed when done)")
    pr.add_argument("--steps", type=int, default=None)
    pr.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting (repeatable)")
    pr.add_argument("--suite", default=None)
    pr.add_argument("--study", default=None)
    pr.add_argument("--out", required=True)
    pr.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    pr.add_argument("--strict", action="store_true", help="exit 1 unless every run has status ok")
    pr.add_argument("--hparams-from", action="append", metavar="SELECTED_JSON",
                    help="settings chosen by `pinnarena tune` (repeatable; later files win; the last names the trial)")
    pr.set_defaults(func=_run)

    pt = sub.add_parser("tune", help="quasi-random trials of one cell on tuning seeds, then OUT/selected.json")
    pt.add_argument("--problem", required=True)
    pt.add_argument("--optimizer", default="adam")
    pt.add_argument("--remedy", default="none")
    pt.add_argument("--trials", type=int, required=True, help="number of quasi-random trials (the same for every method)")
    pt.add_argument("--trial-seed", type=int, default=0, help="seed of the scrambled Sobol sequence")
    pt.add_argument("--seed", type=int, nargs="+", required=True, help="tuning seeds (disjoint from the reported seeds)")
    pt.add_argument("--select", default="val_rel_l2", help="selection metric: val_rel_l2 | loss_final (never the test error)")
    pt.add_argument("--keys", nargs="+", default=None, metavar="PATTERN",
                    help="tune only these keys of the declared space (e.g. opt.learning_rate 'remedy.*')")
    pt.add_argument("--hparams-from", action="append", metavar="SELECTED_JSON",
                    help="fixed settings from another study's selection (e.g. Adam's tuned settings)")
    pt.add_argument("--steps", type=int, default=None)
    pt.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed setting (repeatable)")
    pt.add_argument("--suite", default=None)
    pt.add_argument("--study", default="adhoc", help="the study being tuned (recorded as tuning_of)")
    pt.add_argument("--checkpoint", default=None, metavar="DIR")
    pt.add_argument("--out", required=True)
    pt.add_argument("--quiet", action="store_true")
    pt.set_defaults(func=_tune)

    px = sub.add_parser("reproduce", help="retrain a published row and compare its errors with the published ones")
    px.add_argument("run_id")
    px.add_argument("--from", dest="source", default="results/published/cpu", help="results folder holding the row")
    px.add_argument("--rtol", type=float, default=1e-10, help="largest accepted relative difference (default 1e-10)")
    px.add_argument("--cores", type=int, default=None,
                    help="cores to run on (default: the row's cpu_threads; XLA's CPU arithmetic depends on it)")
    px.add_argument("--quiet", action="store_true")
    px.set_defaults(func=_reproduce)

    pf = sub.add_parser("reference", help="build a problem's reference solution into an .npz file")
    pf.add_argument("problem", nargs="+", help="one or more problems (several: one process builds them in turn)")
    pf.add_argument("--tier", default="standard", help="smoke | standard | paper")
    where = pf.add_mutually_exclusive_group()
    where.add_argument("--out", default=None, help="file, for one problem (default: results/references/<problem>--<tier>.npz)")
    where.add_argument("--out-dir", default=None, help="folder for <problem>--<tier>.npz of every problem given")
    pf.set_defaults(func=_reference)

    pa = sub.add_parser("aggregate", help="results/runs/**/summary.parquet + curves → leaderboard.parquet")
    pa.add_argument("results")
    pa.add_argument("--out", default=None)
    pa.add_argument("--targets", default=None, help="YAML of per-problem targets (e.g. config/targets.yaml)")
    pa.set_defaults(func=_aggregate)

    pg = sub.add_parser("targets", help="print a study's field-median targets (YAML for config/targets.yaml)")
    pg.add_argument("results", help="results folder with runs/ (e.g. results/published/cpu)")
    pg.add_argument("--study", default="optimizers", help="the study whose held-out runs set the targets")
    pg.set_defaults(func=_targets)

    pp = sub.add_parser("report", help="render leaderboard.md, index.html and figures from the Parquet results")
    pp.add_argument("results")
    pp.add_argument("--out", required=True)
    pp.add_argument("--targets", default=None, help="YAML of per-problem targets (re-aggregates with them)")
    pp.add_argument("--baseline", default=None, help="published results (e.g. results/published/cpu) to rank RESULTS "
                    "among, with the baseline's targets; refuses runs whose suite settings differ")
    pp.add_argument("--allow-other-cpu", action="store_true", help="with --baseline: rank time-budgeted runs made "
                    "on another CPU model than the baseline's (the report marks their problems not comparable)")
    pp.set_defaults(func=_report)

    pu = sub.add_parser("publish", help="snapshot summaries/curves/leaderboard Parquet and re-render the report from it")
    pu.add_argument("results")
    pu.add_argument("--out", default="results/published", help="snapshot folder (default: results/published)")
    pu.add_argument("--report", default="report", help="report folder to re-render (default: report)")
    pu.add_argument("--targets", default=None, help="YAML of per-problem targets (default: RESULTS/leaderboard.parquet's)")
    pu.set_defaults(func=_publish)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.command in ("run", "tune", "reproduce"):
        from pinnarena.affinity import from_environment

        from_environment()  # PINNARENA_PIN_CORE=1: one core per job (pinnarena/affinity.py)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
