# Solver references are built once per (problem, tier) and shared by every run of that problem.
# Analytic and manufactured references are evaluated inside the run and need no file.


rule reference:
    output:
        f"{RESULTS}/references/{{problem}}--{{tier}}.npz",
    log:
        f"{RESULTS}/logs/references/{{problem}}--{{tier}}.log",
    wildcard_constraints:
        problem=r"[^/]+",
        tier=r"smoke|standard|paper",
    threads: 1
    priority: 1000000  # every run waits for its reference: build them before anything else (above problem_priority)
    resources:
        mem_mb=config.get("resources", {}).get("reference_mem_mb", 8000),
        runtime=config.get("resources", {}).get("reference_runtime_min", 120),
    conda:
        "../envs/pinnarena.yaml"
    shell:
        "pinnarena reference {wildcards.problem} --tier {wildcards.tier} --out {output} > {log} 2>&1"
