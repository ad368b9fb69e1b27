"""The hostile-workflow suite borrows the non-root suite's directory for nobody."""

from tests.nonroot.test_as_nobody import scratch  # noqa: F401  (a fixture)
