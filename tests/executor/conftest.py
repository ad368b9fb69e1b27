"""The executor suite; ``bench_*.py`` are run by hand and never collected by the pass/fail run."""

collect_ignore_glob = ["bench_*.py"]
