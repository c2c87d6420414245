# Config validation and the expansion of studies into jobs (pinnarena/suite.py; `select` slices a suite).
import json

from snakemake.utils import validate

from pinnarena import suite


validate(config, "../schemas/config.schema.yaml")

RESULTS = config.get("results", "results")
REPORT = config.get("report", "report")
SUITE = config["suite"]
RUN_DIR = f"{RESULTS}/runs/{{study}}/{{problem}}/{{optimizer}}/{{remedy}}/seed{{seed}}"


def _study(name):
    return suite.study(config, name)


def _expand_names(study, kind):
    return suite.expand(study, kind)


JOBS = suite.jobs(config)  # every selected (study, problem, optimizer, remedy, seed): pinnarena/suite.py


def run_args(study):
    """`pinnarena run` options for a study's jobs: steps, suite, study, vmap and --set overrides.

    With `group: problem` a job trains the study's whole optimizer × remedy cross of one
    problem, so per-optimizer and per-remedy settings go as --opt-set / --remedy-set.
    """

    def args(wildcards):
        s = _study(study)
        sets = dict(s["set"])
        out = [f"--steps {int(s['steps'])}", f"--suite {SUITE}", f"--study {study}"]
        fmt = lambda v: json.dumps(v) if not isinstance(v, str) else v
        # per-problem settings (budgets); a batch job (no problem wildcard) has none: suite.problem_batches
        sets.update(s.get("problem_set", {}).get(getattr(wildcards, "problem", None), {}))
        if s.get("group", "cell") == "problem":
            opts, rems = _expand_names(s, "optimizers"), _expand_names(s, "remedies")
            out += ["--optimizer " + " ".join(opts), "--remedy " + " ".join(rems), "--cell-dirs"]
            for o in opts:
                out += [f"--opt-set {o}:{k}={fmt(v)}" for k, v in sorted(s.get("optimizer_set", {}).get(o, {}).items())]
            for r in rems:
                out += [f"--remedy-set {r}:{k}={fmt(v)}" for k, v in sorted(s.get("remedy_set", {}).get(r, {}).items())]
        else:
            out += [f"--optimizer {wildcards.optimizer}", f"--remedy {wildcards.remedy}"]
            for k, v in s.get("optimizer_set", {}).get(wildcards.optimizer, {}).items():
                sets[f"opt.{k}"] = v
            for k, v in s.get("remedy_set", {}).get(wildcards.remedy, {}).items():
                sets[f"remedy.{k}"] = v
        out += [f"--set {k}={fmt(v)}" for k, v in sorted(sets.items())]
        return " ".join(out)

    return args


def reference_files(study, problem):
    """The reference file a study's run of ``problem`` needs (solver references only; analytic ones need none)."""
    if not suite.needs_reference_file(problem):
        return []
    return [f"{RESULTS}/references/{problem}--{suite.reference_tier(config, study)}.npz"]


def reference_input(study):
    """:func:`reference_files` of the job's ``problem`` wildcard."""
    return lambda wildcards: reference_files(study, wildcards.problem)


def problem_priority(study, tune=False):
    """Jobs run study by study (the study's `priority`), and within a study problem by problem in
    the order the study lists them, each problem's trials before its held-out runs. A time budget
    buys each method a different amount of work on another CPU model (pinnarena.cpu_model), so
    every method of a problem should run on one machine: problem-major order finishes problems
    one at a time instead of leaving all of them half done when a session (and its machine) ends."""
    s = _study(study)
    names = _expand_names(s, "problems")
    base = int(s.get("priority", 0)) * 1000  # above any 2 · (problem rank) + 1: study order first
    if 2 * len(names) + 1 >= 1000:
        raise ValueError(f"study {study}: {len(names)} problems are too many for problem_priority's ranks")

    def priority(wildcards):
        rank = len(names) - names.index(wildcards.problem) if wildcards.problem in names else 0
        return base + 2 * rank + (1 if tune else 0)

    return priority


def checkpoint_dir(study):
    """Where a job's checkpoints live: outside its outputs, so a restarted job can resume."""
    if _study(study).get("group", "cell") == "problem":
        return lambda wildcards: f"{RESULTS}/checkpoints/{study}/{wildcards.problem}"
    return lambda wildcards: f"{RESULTS}/checkpoints/{study}/{wildcards.problem}/{wildcards.optimizer}/{wildcards.remedy}"


TUNE_DIR = f"{RESULTS}/runs/tuning/{{study}}/{{problem}}/{{optimizer}}/{{remedy}}"
TUNING_CELLS = suite.tuning_cells(config)  # cells of tuned studies: pinnarena/suite.py, pinnarena/tuning.py


def selection_input(study):
    """A tuned study's held-out runs read the cell's selection (and nothing else of the trials);
    a study with `hparams_from` reads that tuned study's selection of the same cell."""
    source = suite.hparams_source(config, study)
    if source is not None:
        return lambda wildcards: [f"{TUNE_DIR}/selected.json".format(study=source, **wildcards)]
    if suite.tune_spec(_study(study)) is None:
        return lambda wildcards: []
    return lambda wildcards: [f"{TUNE_DIR}/selected.json".format(study=study, **wildcards)]


def base_selection(study):
    """``tune.base``: the base study's selection for (problem, optimizer, none), e.g. Adam's
    tuned settings under which the remedies study tunes each remedy."""
    base = (suite.tune_spec(_study(study)) or {}).get("base")
    if not base:
        return lambda wildcards: []
    return lambda wildcards: [TUNE_DIR.format(study=base, problem=wildcards.problem, optimizer=wildcards.optimizer,
                                              remedy="none") + "/selected.json"]


def tuning_work_dir(study):
    """Where a tuned cell keeps its finished trials (for resuming) and checkpoints: outside runs/."""
    return lambda wildcards: f"{RESULTS}/checkpoints/tuning/{study}/{wildcards.problem}/{wildcards.optimizer}/{wildcards.remedy}"


def tune_args(study):
    """`pinnarena tune` options of a tuned study's cell (fixed settings as for its runs)."""
    t = suite.tune_spec(_study(study))
    run = run_args(study)

    def args(wildcards):
        out = [run(wildcards), f"--trials {int(t['trials'])}", f"--trial-seed {int(t['seed'])}",
               "--seed " + " ".join(str(x) for x in t["seeds"]), f"--select {t['select']}"]
        if t.get("keys"):
            out.append("--keys " + " ".join(f"'{k}'" for k in t["keys"]))
        out += [f"--hparams-from {f}" for f in base_selection(study)(wildcards)]
        return " ".join(out)

    return args


def all_runs(name):
    held_out = [f"{RUN_DIR}/{name}".format(**j) for j in JOBS]
    return held_out + [f"{TUNE_DIR}/{name}".format(**c) for c in TUNING_CELLS]
