# Parquet → leaderboard.parquet → report (the report reads Parquet only).


rule aggregate:
    input:
        summaries=all_runs("summary.parquet"),
    output:
        f"{RESULTS}/leaderboard.parquet",
    log:
        f"{RESULTS}/logs/aggregate.log",
    conda:
        "../envs/pinnarena.yaml"
    script:
        "../scripts/aggregate.py"


rule report:
    input:
        leaderboard=f"{RESULTS}/leaderboard.parquet",
        summaries=all_runs("summary.parquet"),
        curves=all_runs("curves.parquet"),
    output:
        markdown=f"{REPORT}/leaderboard.md",
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        "../envs/pinnarena.yaml"
    script:
        "../scripts/report.py"
