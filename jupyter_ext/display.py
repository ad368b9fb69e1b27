"""Rich display of a workflow in a notebook: an SVG graph of its nodes coloured by phase, and
a table of node outputs. Input is Argo's Workflow dict; every piece of text is escaped.

The graph is drawn the way Argo's UI draws it: StepGroup and TaskGroup wrappers are hidden
(edges pass through them), nodes are laid out in layers top to bottom.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from html import escape
from typing import Any

HIDDEN = frozenset({"StepGroup", "TaskGroup"})
# Argo UI's phase colours (fill, text).
COLOURS: dict[str, tuple[str, str]] = {
    "Succeeded": ("#18be94", "#ffffff"),
    "Failed": ("#e96d76", "#ffffff"),
    "Error": ("#e96d76", "#ffffff"),
    "Running": ("#0dadea", "#ffffff"),
    "Pending": ("#f7b54a", "#ffffff"),
    "Skipped": ("#ccd6dd", "#495366"),
    "Omitted": ("#ccd6dd", "#495366"),
}
UNKNOWN = ("#8fa4b1", "#ffffff")
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 150, 34, 20, 36, 12
MAX_NODES = 400  # beyond this the graph is cut (the table and `.nodes` still have them all)
LABEL_CHARS = 20


def _short(text: str, width: int = LABEL_CHARS) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---- layout ----------------------------------------------------------------------------------


@dataclass
class Layout:
    """Visible nodes by layer (top to bottom, each ordered left to right) and their edges."""

    layers: list[list[str]] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    cut: int = 0  # nodes not drawn

    def positions(self) -> dict[str, tuple[float, float]]:
        """Top-left corner of each node's box; each layer centred on the widest."""
        widest = max((len(layer) for layer in self.layers), default=0)
        total = widest * BOX_W + max(widest - 1, 0) * GAP_X
        pos = {}
        for row, layer in enumerate(self.layers):
            width = len(layer) * BOX_W + max(len(layer) - 1, 0) * GAP_X
            left = MARGIN + (total - width) / 2
            for col, nid in enumerate(layer):
                pos[nid] = (left + col * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y))
        return pos

    def size(self) -> tuple[float, float]:
        widest = max((len(layer) for layer in self.layers), default=0)
        width = widest * BOX_W + max(widest - 1, 0) * GAP_X + 2 * MARGIN
        height = len(self.layers) * BOX_H + max(len(self.layers) - 1, 0) * GAP_Y + 2 * MARGIN
        return width, height


def visible_edges(nodes: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Each visible node's visible children, following edges through hidden wrappers."""

    def through(nid: str, seen: set[str]) -> list[str]:
        if nid in seen or nid not in nodes:
            return []
        seen.add(nid)
        if nodes[nid].get("type") not in HIDDEN:
            return [nid]
        out: list[str] = []
        for child in nodes[nid].get("children") or []:
            out += through(child, seen)
        return out

    edges: dict[str, list[str]] = {}
    for nid, node in nodes.items():
        if node.get("type") in HIDDEN:
            continue
        targets: list[str] = []
        seen: set[str] = {nid}
        for child in node.get("children") or []:
            targets += [t for t in through(child, seen) if t not in targets]
        edges[nid] = targets
    return edges


def layout(nodes: dict[str, dict[str, Any]], limit: int = MAX_NODES) -> Layout:
    """Longest-path layers (a node sits below every parent), ordered by the parents' mean
    position so edges cross less; roots in start order."""
    edges = visible_edges(nodes)
    parents: dict[str, list[str]] = {nid: [] for nid in edges}
    for src, targets in edges.items():
        for dst in targets:
            parents[dst].append(src)

    def start(nid: str) -> tuple[str, str]:
        return (nodes[nid].get("startedAt") or "~", nodes[nid].get("name", ""))

    # Kahn's order; a cycle (never in Argo's status, but input is data) is broken by start order.
    layer_of: dict[str, int] = {}
    pending = {nid: len(ps) for nid, ps in parents.items()}
    ready = deque(sorted((nid for nid, n in pending.items() if n == 0), key=start))
    order: list[str] = []
    while len(order) < len(edges):
        if not ready:
            ready.append(min((nid for nid in edges if nid not in layer_of), key=start))
        nid = ready.popleft()
        if nid in layer_of:
            continue
        layer_of[nid] = max((layer_of[p] + 1 for p in parents[nid] if p in layer_of), default=0)
        order.append(nid)
        for child in edges[nid]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)

    kept = set(order[:limit])
    result = Layout(cut=len(order) - len(kept))
    depth = max((layer_of[n] for n in kept), default=-1) + 1
    result.layers = [[] for _ in range(depth)]
    for nid in order:
        if nid in kept:
            result.layers[layer_of[nid]].append(nid)
    index: dict[str, float] = {}
    for members in result.layers:

        def weight(nid: str) -> tuple[float, tuple[str, str]]:
            placed = [index[p] for p in parents[nid] if p in index]
            return (sum(placed) / len(placed) if placed else -1.0, start(nid))

        members.sort(key=weight)
        for col, nid in enumerate(members):
            index[nid] = col
    result.edges = [(s, d) for s, ts in edges.items() if s in kept for d in ts if d in kept]
    return result


# ---- SVG -------------------------------------------------------------------------------------


def _label(node: dict[str, Any], nid: str) -> str:
    return str(node.get("displayName") or node.get("name") or nid)


def _box(nid: str, node: dict[str, Any], x: float, y: float) -> str:
    phase = node.get("phase") or "Pending"
    fill, ink = COLOURS.get(phase, UNKNOWN)
    label = _label(node, nid)
    tip = f"{node.get('name', nid)} ({node.get('type', '')}): {phase}"
    if node.get("message"):
        tip += f" — {node['message']}"
    dashed = ' stroke-dasharray="4 3"' if node.get("type") in ("Steps", "DAG") else ""
    return (f'<g class="argosy-node" data-phase="{escape(phase)}" '
            f'data-node="{escape(node.get("name", nid))}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{x:g}" y="{y:g}" width="{BOX_W}" height="{BOX_H}" rx="6" '
            f'fill="{fill}" stroke="#495366" stroke-width="1"{dashed}/>'
            f'<text x="{x + BOX_W / 2:g}" y="{y + BOX_H / 2 + 4:g}" text-anchor="middle" '
            f'fill="{ink}">{escape(_short(label))}</text></g>')


def _edge(a: tuple[float, float], b: tuple[float, float]) -> str:
    x1, y1 = a[0] + BOX_W / 2, a[1] + BOX_H
    x2, y2 = b[0] + BOX_W / 2, b[1]
    mid = (y1 + y2) / 2
    if y2 <= y1:  # an edge that does not go down (a broken cycle): arc out to the side
        mid = y1 + GAP_Y
    return (f'<path d="M{x1:g},{y1:g} C{x1:g},{mid:g} {x2:g},{mid:g} {x2:g},{y2:g}" '
            'fill="none" stroke="#8fa4b1" stroke-width="1.5" marker-end="url(#argosy-arrow)"/>')


def workflow_svg(wf: dict[str, Any]) -> str:
    """The workflow's nodes as an SVG document (empty graph for a workflow not started)."""
    nodes = (wf.get("status") or {}).get("nodes") or {}
    lay = layout(nodes)
    pos = lay.positions()
    width, height = lay.size()
    if lay.cut:
        height += 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="argosy-graph" '
             f'width="{width:g}" height="{height:g}" viewBox="0 0 {width:g} {height:g}" '
             'font-family="sans-serif" font-size="12">',
             '<defs><marker id="argosy-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
             'markerWidth="6" markerHeight="6" orient="auto-start-reverse">'
             '<path d="M0,0 L10,5 L0,10 z" fill="#8fa4b1"/></marker></defs>']
    parts += [_edge(pos[s], pos[d]) for s, d in lay.edges]
    parts += [_box(nid, nodes[nid], *pos[nid]) for layer in lay.layers for nid in layer]
    if lay.cut:
        parts.append(f'<text x="{MARGIN}" y="{height - 6:g}" fill="#495366">'
                     f"{lay.cut} more nodes not drawn</text>")
    parts.append("</svg>")
    return "".join(parts)


class Graph:
    """Displays as the workflow's SVG graph."""

    def __init__(self, wf: dict[str, Any]) -> None:
        self.wf = wf

    def _repr_svg_(self) -> str:
        return workflow_svg(self.wf)


# ---- HTML ------------------------------------------------------------------------------------


def _parameters(outputs: dict[str, Any]) -> str:
    items = [f"<code>{escape(str(p.get('name', '')))}</code>={escape(_value(p.get('value')))}"
             for p in outputs.get("parameters") or []]
    return "<br>".join(items)


def _value(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def outputs_table(wf: dict[str, Any]) -> str:
    """Rows for nodes that produced outputs, in the graph's order (top to bottom, left to
    right), then any the graph left out in start order."""
    nodes = (wf.get("status") or {}).get("nodes") or {}
    drawn = [nid for layer in layout(nodes).layers for nid in layer]
    rest = sorted(set(nodes) - set(drawn),
                  key=lambda nid: (nodes[nid].get("startedAt") or "~", nodes[nid].get("name", "")))
    rows = []
    for node in (nodes[nid] for nid in drawn + rest):
        outputs = node.get("outputs") or {}
        if not outputs or node.get("type") in HIDDEN:
            continue
        phase = node.get("phase") or ""
        fill, _ = COLOURS.get(phase, UNKNOWN)
        code = outputs.get("exitCode")
        rows.append(
            f'<tr style="text-align:left"><td title="{escape(node.get("name", ""))}">'
            f"{escape(node.get('displayName') or node.get('name', ''))}</td>"
            f'<td><span style="color:{fill}">●</span> {escape(phase)}</td>'
            f"<td><pre style=\"margin:0\">{escape(_value(outputs.get('result')))}</pre></td>"
            f"<td>{_parameters(outputs)}</td>"
            f"<td>{escape(_value(code))}</td></tr>")
    if not rows:
        return ""
    head = "".join(f'<th style="text-align:left">{h}</th>'
                   for h in ("node", "phase", "result", "parameters", "exit code"))
    return (f'<table class="argosy-outputs"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def workflow_html(wf: dict[str, Any]) -> str:
    """Header (name, phase, progress, message), graph, and the outputs table."""
    meta = wf.get("metadata") or {}
    status = wf.get("status") or {}
    phase = status.get("phase") or "Pending"
    fill, _ = COLOURS.get(phase, UNKNOWN)
    facts = [f"<b>{escape(meta.get('namespace') or 'default')}/{escape(meta.get('name', ''))}</b>",
             f'<span style="color:{fill}">●</span> {escape(phase)}']
    if status.get("progress"):
        facts.append(f"progress {escape(str(status['progress']))}")
    if status.get("message"):
        facts.append(f"<i>{escape(str(status['message']))}</i>")
    glob = (status.get("outputs") or {}).get("parameters")
    outputs = (f"<div>workflow outputs: {_parameters(status['outputs'])}</div>" if glob else "")
    return (f'<div class="argosy-workflow"><div>{" · ".join(facts)}</div>'
            f"{workflow_svg(wf)}{outputs}{outputs_table(wf)}</div>")
