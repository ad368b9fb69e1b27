"""Benchmarks report numbers; they are run by hand, never collected by the pass/fail run."""

collect_ignore_glob = ["bench_*.py"]
