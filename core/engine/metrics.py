"""Custom Prometheus metrics (``metrics.prometheus``) of templates and workflows.

Evaluated when a node or the workflow finishes, and kept in the store with the workflow;
the server's ``/metrics`` exposes them. Counters add across evaluations and workflows, gauges
keep the latest value, histograms count observations into their buckets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from argosy.errors import ArgosyError, ExpressionError
from argosy.expr.substitute import Scope, substitute

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class MetricError(ArgosyError):
    pass


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str  # counter | gauge | histogram
    help: str
    labels: tuple[tuple[str, str], ...]
    value: float
    buckets: tuple[float, ...] = ()


def evaluate(specs: list[dict[str, Any]], scope: Scope,
             functions: Any = None) -> list[Sample]:
    """The samples ``specs`` emit in ``scope`` (``when`` false: none)."""
    from argosy.expr.govaluate import evaluate_when  # only a template with metrics needs it

    samples = []
    for raw in specs:
        spec = substitute(raw, scope, functions=functions)
        name = spec.get("name", "")
        if not NAME.match(name):
            raise MetricError(f"metric name {name!r} is invalid: names must match {NAME.pattern}")
        when = spec.get("when")
        try:
            if when and not evaluate_when(when):
                continue
        except ExpressionError as exc:
            raise MetricError(f"metric {name}: {exc}") from None
        kind = next((k for k in ("counter", "gauge", "histogram") if spec.get(k)), None)
        if kind is None:
            raise MetricError(f"metric {name}: one of counter, gauge or histogram is required")
        body = spec[kind]
        try:
            value = float(body.get("value", ""))
        except ValueError:
            raise MetricError(f"metric {name}: value {body.get('value')!r} is not a number"
                              ) from None
        labels = tuple(sorted((str(lb["key"]), str(lb["value"]))
                              for lb in spec.get("labels") or []))
        buckets = tuple(float(b) for b in body.get("buckets") or ()) if kind == "histogram" \
            else ()
        samples.append(Sample(name, kind, spec.get("help", ""), labels, value, buckets))
    return samples


def to_row(sample: Sample) -> tuple[str, str, str, str, float, str]:
    return (sample.name, sample.kind, sample.help, json.dumps(dict(sample.labels)),
            sample.value, json.dumps(list(sample.buckets)))


def exposition(rows: list[tuple[str, str, str, str, float, str]]) -> str:
    """Prometheus text format for stored samples, combined across workflows."""
    series: dict[tuple[str, str], dict[str, Any]] = {}
    meta: dict[str, tuple[str, str]] = {}
    for name, kind, help_text, labels, value, buckets in rows:
        meta.setdefault(name, (kind, help_text))
        entry = series.setdefault((name, labels), {"value": 0.0, "obs": [],
                                                   "buckets": json.loads(buckets)})
        if kind == "counter":
            entry["value"] += value
        elif kind == "gauge":
            entry["value"] = value
        else:
            entry["obs"].append(value)
    lines = []
    for name, (kind, help_text) in sorted(meta.items()):
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for (series_name, labels), entry in sorted(series.items()):
            if series_name != name:
                continue
            lines.extend(_series_lines(name, kind, json.loads(labels), entry))
    return "\n".join(lines) + ("\n" if lines else "")


def _fmt_labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _series_lines(name: str, kind: str, labels: dict[str, str],
                  entry: dict[str, Any]) -> list[str]:
    if kind != "histogram":
        return [f"{name}{_fmt_labels(labels)} {entry['value']:g}"]
    obs, lines = entry["obs"], []
    for bound in entry["buckets"]:
        count = sum(1 for v in obs if v <= bound)
        lines.append(f"{name}_bucket{_fmt_labels(labels | {'le': f'{bound:g}'})} {count}")
    lines.append(f"{name}_bucket{_fmt_labels(labels | {'le': '+Inf'})} {len(obs)}")
    lines.append(f"{name}_sum{_fmt_labels(labels)} {sum(obs):g}")
    lines.append(f"{name}_count{_fmt_labels(labels)} {len(obs)}")
    return lines
