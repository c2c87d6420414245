# One training job per (study, problem, optimizer, remedy, seed). `pinnarena run` writes a row for
# every outcome (ok, diverged, timeout, error), so a failed training never stops the workflow.


rule run:
    input:
        reference_input,
    output:
        summary=f"{RUN_DIR}/summary.parquet",
        curves=f"{RUN_DIR}/curves.parquet",
    log:
        f"{RESULTS}/logs/{{study}}/{{problem}}/{{optimizer}}/{{remedy}}/seed{{seed}}.log",
    params:
        args=run_args,
        out=lambda wc, output: os.path.dirname(output.summary),
        references=f"{RESULTS}/references",
    wildcard_constraints:
        seed=r"\d+",
        study=r"[^/]+",
        problem=r"[^/]+",
        optimizer=r"[^/]+",
        remedy=r"[^/]+",
    threads: 1
    conda:
        "../envs/pinnarena.yaml"
    resources:
        mem_mb=config.get("resources", {}).get("mem_mb", 4000),
        runtime=config.get("resources", {}).get("runtime_min", 60),
    shell:
        "PINNARENA_REFERENCE_DIR={params.references} pinnarena run --problem {wildcards.problem} --optimizer {wildcards.optimizer} "
        "--remedy {wildcards.remedy} --seed {wildcards.seed} {params.args} --out {params.out} "
        "> {log} 2>&1"
