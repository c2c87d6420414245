# Training jobs. One job trains every seed of a (study, problem, optimizer, remedy) cell in one
# process — vmapped over seeds unless the study sets `vmap_seeds: false` — so imports, the
# reference and compilation are paid once per cell. `pinnarena run` writes a row for every
# outcome (ok, diverged, timeout, error), so a failed training never stops the workflow.
# One rule per study (its seeds fix the outputs); all share the same shell command.
# A tuned study (`tune:`, pinnarena/tuning.py) has a second rule per study, `tune_<study>`: one job
# per cell trains the quasi-random trials on the tuning seeds and writes the cell's selected.json,
# which the cell's held-out runs read (--hparams-from). References and selections are `ancient`
# inputs, and a job whose outputs all exist does not ask for its reference at all: committed results
# (a published snapshot on a fresh clone) count as done; a changed setting still reruns a job (params trigger).
import os
from pathlib import Path
from types import SimpleNamespace


def ancient_all(files_fn):
    return lambda wildcards: [ancient(f) for f in files_fn(wildcards)]


def reference_unless_done(study, outputs, problems=None):
    """The job's references (ancient inputs), or none once every output of the job exists.

    Snakemake reruns a job when another job of the same run creates one of its inputs, ancient
    or not (ancient only ignores the time stamp of a file that already exists). References are
    not committed, so on a fresh clone they are rebuilt, and without this every committed run of
    a published snapshot would be retrained. A finished job that reruns anyway (changed params)
    builds its reference in memory (pinnarena.references.load_or_build). ``problems``: the
    problems of a batch job (default: the job's ``problem`` wildcard).
    """

    def files(wildcards):
        if all(os.path.exists(o.format(**wildcards)) for o in outputs):
            return []
        return [ancient(f) for p in (problems or [wildcards.problem]) for f in reference_files(study, p)]

    return files


# what every training job of a study shares: its command (one or more problems; the held-out
# runs of a tuned cell read its selection with --hparams-from) and its declared resources
def run_shell(problems):
    """The `pinnarena run` command of a training job; ``problems``: the placeholder naming its
    problem(s) (a batch's ``{params.problems}``, a per-problem job's ``{wildcards.problem}``: not a
    param there, since snakemake's params rerun trigger would see a new param and rerun every
    finished job of a published snapshot)."""
    return ("env {params.env} PINNARENA_REFERENCE_DIR={params.references} PINNARENA_JAX_CACHE={params.cache} "
            f"pinnarena run --problem {problems} --seed {{params.seeds}} --seed-dirs "
            "--checkpoint {params.checkpoint} {params.vmap} {params.args} {params.hparams} --out {params.out} > {log} 2>&1")


JOB_RESOURCES = dict(mem_mb=config.get("resources", {}).get("mem_mb", 4000),
                     runtime=config.get("resources", {}).get("runtime_min", 60),
                     gpu=config.get("resources", {}).get("gpu", 0))
JOB_ENV = " ".join(f"{k}={v}" for k, v in sorted(config.get("env", {}).items()))


for _name in config["studies"]:
    _s = _study(_name)
    _seeds = _s.get("seeds", [0])
    _batches = suite.problem_batches(config, _name)
    # `batch: N` (group: problem): one static rule per batch of N problems, one process each
    for _k, _problems in enumerate(_batches or []):
        _bcells = [f"{RESULTS}/runs/{_name}/{p}/{o}/{r}" for p in _problems
                   for o in _expand_names(_s, "optimizers") for r in _expand_names(_s, "remedies")]
        _bsummaries = [f"{c}/seed{s}/summary.parquet" for c in _bcells for s in _seeds]
        _bcurves = [f"{c}/seed{s}/curves.parquet" for c in _bcells for s in _seeds]

        rule:
            name:
                f"run_{_name.replace('-', '_')}_batch{_k}"
            input:
                reference_unless_done(_name, _bsummaries + _bcurves, problems=_problems),
            output:
                summaries=_bsummaries,
                curves=_bcurves,
            log:
                f"{RESULTS}/logs/{_name}/batch{_k}.log",
            params:
                problems=" ".join(_problems),
                seeds=" ".join(str(s) for s in _seeds),
                args=run_args(_name),
                vmap="--vmap-seeds" if _s.get("vmap_seeds", True) else "--no-vmap-seeds",
                hparams="",  # a batched study is not tuned (suite.tune_spec: group cell)
                out=f"{RESULTS}/runs/{_name}",
                references=f"{RESULTS}/references",
                cache=f"{RESULTS}/.jax-cache",
                checkpoint=f"{RESULTS}/checkpoints/{_name}",  # pinnarena run adds /<problem>
                env=JOB_ENV,
            threads: 1
            priority: problem_priority(_name)(SimpleNamespace(problem=_problems[0]))
            resources:
                **JOB_RESOURCES,
            conda:
                "../envs/pinnarena.yaml"
            shell:
                run_shell("{params.problems}")

    if _batches is not None:
        continue
    if _s.get("group", "cell") == "problem":
        _cells = [
            f"{RESULTS}/runs/{_name}/{{problem}}/{o}/{r}"
            for o in _expand_names(_s, "optimizers")
            for r in _expand_names(_s, "remedies")
        ]
        _out = f"{RESULTS}/runs/{_name}/{{problem}}"
        _log = f"{RESULTS}/logs/{_name}/{{problem}}.log"
    else:
        _cells = [f"{RESULTS}/runs/{_name}/{{problem}}/{{optimizer}}/{{remedy}}"]
        _out = _cells[0]
        _log = f"{RESULTS}/logs/{_name}/{{problem}}/{{optimizer}}/{{remedy}}.log"

    rule:
        name:
            f"run_{_name.replace('-', '_')}"
        input:
            reference_unless_done(_name, [f"{c}/seed{s}/{f}" for c in _cells for s in _seeds
                                          for f in ("summary.parquet", "curves.parquet")]),
            ancient_all(selection_input(_name)),
        output:
            summaries=[f"{c}/seed{s}/summary.parquet" for c in _cells for s in _seeds],
            curves=[f"{c}/seed{s}/curves.parquet" for c in _cells for s in _seeds],
        log:
            _log,
        params:
            seeds=" ".join(str(s) for s in _seeds),
            args=run_args(_name),
            vmap="--vmap-seeds" if _s.get("vmap_seeds", True) else "--no-vmap-seeds",
            hparams=lambda wildcards, input: " ".join(f"--hparams-from {f}" for f in input if f.endswith("selected.json")),
            out=_out,
            references=f"{RESULTS}/references",
            cache=f"{RESULTS}/.jax-cache",
            checkpoint=checkpoint_dir(_name),
            env=JOB_ENV,
        wildcard_constraints:
            problem=r"[^/]+",
            optimizer=r"[^/]+",
            remedy=r"[^/]+",
        threads: 1
        priority: problem_priority(_name)
        resources:
            **JOB_RESOURCES,
        conda:
            "../envs/pinnarena.yaml"
        shell:
            run_shell("{wildcards.problem}")

    if suite.tune_spec(_s) is None:
        continue

    rule:
        name:
            f"tune_{_name.replace('-', '_')}"
        input:
            reference_unless_done(_name, [f"{RESULTS}/runs/tuning/{_name}/{{problem}}/{{optimizer}}/{{remedy}}/{f}"
                                          for f in ("summary.parquet", "curves.parquet", "selected.json")]),
            ancient_all(base_selection(_name)),
        output:
            summary=f"{RESULTS}/runs/tuning/{_name}/{{problem}}/{{optimizer}}/{{remedy}}/summary.parquet",
            curves=f"{RESULTS}/runs/tuning/{_name}/{{problem}}/{{optimizer}}/{{remedy}}/curves.parquet",
            selected=f"{RESULTS}/runs/tuning/{_name}/{{problem}}/{{optimizer}}/{{remedy}}/selected.json",
        log:
            f"{RESULTS}/logs/tuning/{_name}/{{problem}}/{{optimizer}}/{{remedy}}.log",
        params:
            args=tune_args(_name),
            out=lambda wildcards, output: str(Path(output.selected).parent),
            references=f"{RESULTS}/references",
            cache=f"{RESULTS}/.jax-cache",
            work=tuning_work_dir(_name),
            env=JOB_ENV,
        wildcard_constraints:
            problem=r"[^/]+",
            optimizer=r"[^/]+",
            remedy=r"[^/]+",
        threads: 1
        priority: problem_priority(_name, tune=True)  # a cell's held-out runs wait for its trials
        resources:
            **JOB_RESOURCES,
        conda:
            "../envs/pinnarena.yaml"
        shell:
            "env {params.env} PINNARENA_REFERENCE_DIR={params.references} PINNARENA_JAX_CACHE={params.cache} "
            "pinnarena tune --problem {wildcards.problem} --optimizer {wildcards.optimizer} "
            "--remedy {wildcards.remedy} --checkpoint {params.work} {params.args} --out {params.out} > {log} 2>&1"
