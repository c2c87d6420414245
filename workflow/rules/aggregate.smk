# Parquet → leaderboard.parquet → report (the report reads Parquet only, never logs).
# Targets for time-to-target scoring come from the suite's `targets:` file (config/targets.yaml);
# problems without one get a target derived from adam + none (see pinnarena/scoring.py).

TARGETS = config.get("targets", "")
# Always written (pinnarena.report.FIGURES; PNG at 300 dpi, an SVG beside each); optional figures
# (regime_map, per-study variants, appendix "all methods" figures) are written when there is data.
REPORT_FIGURES = ["performance_profiles", "error_vs_time", "error_vs_grad_evals", "heatmap", "tuning_sensitivity",
                  "alignment", "alignment_vs_error"]


rule aggregate:
    input:
        summaries=all_runs("summary.parquet"),
        curves=all_runs("curves.parquet"),
        targets=[TARGETS] if TARGETS else [],
    output:
        report(
            f"{RESULTS}/leaderboard.parquet",
            category="Data",
        ),
    log:
        f"{RESULTS}/logs/aggregate.log",
    params:
        suite=SUITE,
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
        html=report(
            f"{REPORT}/index.html",
            category="Leaderboard",
        ),
        figures=[
            report(
                f"{REPORT}/figures/{name}.png",
                category="Figures",
            )
            for name in REPORT_FIGURES
        ],
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        "../envs/pinnarena.yaml"
    script:
        "../scripts/report.py"
