"""How `argosy get`, `argosy run` and `argosy watch` show a workflow.

The input is always a Workflow as a plain dict in Argo's own shape (what
`argo get -o json` prints), so the same code renders our own runs and
workflows fetched from a real Argo server.

The tree follows the layout of the `argo` CLI:

* a node hangs under its StepGroup/Retry parent if it has one, otherwise
  under the Steps/DAG node named by its ``boundaryID``;
* siblings are ordered by start time, ties broken by loop index
  (``name(3:x)``) when both have one, else by display name;
* StepGroup rows are hidden and their children drawn with ``┬─``/``├─``/``└─``
  joints; a Retry with a single attempt is replaced by that attempt; an
  Omitted Skipped node is hidden; TaskGroup and Container nodes are never
  drawn (their children attach to the enclosing boundary);
* the PODNAME and DURATION columns are only filled for Pod nodes; PODNAME is Argo's (v2) pod
  name, the one ``argosy logs`` prints.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

from argosy.kube import pod_name

if TYPE_CHECKING:  # rich loads when something is drawn with it: PlainProgress needs none
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.table import Table
    from rich.text import Text

__all__ = [
    "Column",
    "FitTable",
    "LiveView",
    "PlainProgress",
    "Row",
    "format_duration",
    "node_tree",
    "pod_name",
    "render_workflow",
]

# --- node classification (mirrors the argo CLI's three render categories) ---

_BOUNDARY = frozenset({"Steps", "DAG"})
# Parents whose `children` own the render position of those children.
_GROUP_PARENTS = frozenset({"StepGroup", "Retry"})
_EXECUTION = frozenset({"Pod", "Skipped", "Suspend", "HTTP", "Plugin"})
_RENDERABLE = _BOUNDARY | _GROUP_PARENTS | _EXECUTION
#: A group of more children than this is drawn collapsed, as the panel draws it: its children
#: that did not succeed (up to this many) and one row counting the others by phase.
COLLAPSE = 20
_QUIET = frozenset({"Succeeded", "Skipped", "Omitted"})
# Nodes that do work; the plain (non-terminal) log reports only these.
_REPORTED = frozenset({"Pod", "Container", "Skipped", "Suspend", "HTTP", "Plugin"})

_TERMINAL = frozenset({"Succeeded", "Failed", "Error", "Skipped", "Omitted"})
_WF_TERMINAL = frozenset({"Succeeded", "Failed", "Error"})

ICONS: dict[str, str] = {
    "Pending": "◷",
    "Running": "●",
    "Succeeded": "✔",
    "Skipped": "○",
    "Failed": "✖",
    "Error": "⚠",
    "Omitted": "↓",
}
SUSPEND_ICON = "ǁ"

STYLES: dict[str, str] = {
    "Pending": "yellow",
    "Running": "cyan",
    "Succeeded": "green",
    "Skipped": "dim",
    "Omitted": "dim",
    "Failed": "red",
    "Error": "red",
    "Suspended": "yellow",
}

# Header block and table heading take about this many lines above the tree.
_LIVE_CHROME = 16
_LIVE_MIN_ROWS = 5
_EPOCH = datetime.min.replace(tzinfo=UTC)
_VALUE_WIDTH = 40


# --- time helpers ---


@functools.lru_cache(maxsize=8192)
def _parse_ts(value: str | None) -> datetime | None:
    """RFC3339 -> aware datetime; cached because many nodes share a second."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _elapsed(started: str | None, finished: str | None, now: datetime) -> float | None:
    """Seconds between start and finish (or now while still running)."""
    start = _parse_ts(started)
    if start is None:
        return None
    end = _parse_ts(finished) or now
    return (end - start).total_seconds()


def format_duration(seconds: float) -> str:
    """Compact duration with at most two units: 1s, 2m3s, 1h2m, 3d4h."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    minutes, s = divmod(s, 60)
    if minutes < 60:
        return f"{minutes}m{s}s" if s else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def _plural(n: int, unit: str) -> str:
    return f"1 {unit}" if n == 1 else f"{n} {unit}s"


def _long_duration(seconds: float) -> str:
    """Header-style duration: '5 seconds', '2 minutes 3 seconds', '1 hour 4 minutes'."""
    s = max(0, int(seconds))
    if s < 60:
        return _plural(s, "second")
    if s < 3600:
        return f"{_plural(s // 60, 'minute')} {s % 60} seconds"
    if s < 86400:
        return f"{_plural(s // 3600, 'hour')} {s // 60 % 60} minutes"
    return f"{_plural(s // 86400, 'day')} {s // 3600 % 24} hours"


# Upper bound (seconds, exclusive) -> (unit seconds or 0 for a fixed phrase, phrase).
_DAY, _WEEK, _MONTH, _YEAR = 86400, 7 * 86400, 30 * 86400, 360 * 86400
_REL_STEPS: tuple[tuple[float, int, str], ...] = (
    (1, 0, "now"),
    (2, 0, "1 second"),
    (60, 1, "seconds"),
    (120, 0, "1 minute"),
    (3600, 60, "minutes"),
    (7200, 0, "1 hour"),
    (_DAY, 3600, "hours"),
    (2 * _DAY, 0, "1 day"),
    (_WEEK, _DAY, "days"),
    (2 * _WEEK, 0, "1 week"),
    (_MONTH, _WEEK, "weeks"),
    (2 * _MONTH, 0, "1 month"),
    (_YEAR, _MONTH, "months"),
    (float("inf"), _YEAR, "years"),
)


def _relative(ts: datetime, now: datetime) -> str:
    """'3 minutes ago' / '2 hours from now', the granularity argo shows."""
    delta = (now - ts).total_seconds()
    suffix = "ago" if delta >= 0 else "from now"
    delta = abs(delta)
    for bound, unit, phrase in _REL_STEPS:
        if delta < bound:
            if phrase == "now":
                return "now"
            text = f"{int(delta // unit)} {phrase}" if unit else phrase
            return f"{text} {suffix}"
    return f"a long while {suffix}"  # pragma: no cover - inf bound above


def _timestamp(value: str | None, now: datetime) -> str:
    ts = _parse_ts(value)
    if ts is None:
        return ""
    local = ts.astimezone()
    return f"{local.strftime('%a %b %d %H:%M:%S %z')} ({_relative(ts, now)})"


def _utc_stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the tree ---


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the workflow tree, already laid out but not yet styled."""

    id: str
    prefix: str  # tree joints drawn before the icon, e.g. " ├─┬─"
    depth: int
    icon: str
    display_name: str
    template: str
    pod_name: str  # Argo's pod name for Pod nodes, else ""
    duration: str  # only for Pod nodes, as argo does
    message: str
    phase: str
    type: str
    on_exit: bool = False  # part of the workflow's onExit tree
    inputs: tuple[tuple[str, str], ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    result: str | None = None
    exit_code: str | None = None
    artifacts: tuple[str, ...] = ()

    @property
    def step(self) -> str:
        """The STEP column as plain text."""
        return f"{self.prefix}{self.icon} {self.display_name}"


def _loop_index(display_name: str) -> int:
    """Index of a loop expansion like 'task(3:x)', or -1."""
    open_at = display_name.find("(")
    colon = display_name.find(":")
    if open_at < 0 or colon < 0:
        return -1
    try:
        return int(display_name[open_at + 1 : colon])
    except ValueError:
        return -1


def _sibling_cmp(a: tuple[datetime, int, str], b: tuple[datetime, int, str]) -> int:
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    # Same start: loop siblings by index, anything else alphabetically.
    if a[1] >= 0 and b[1] >= 0:
        return (a[1] > b[1]) - (a[1] < b[1])
    return (a[2] > b[2]) - (a[2] < b[2])


def _sort_siblings(ids: list[str], nodes: dict[str, dict[str, Any]]) -> list[str]:
    if len(ids) < 2:
        return ids
    keyed = []
    for nid in ids:
        node = nodes[nid]
        name = node.get("displayName") or node.get("name") or nid
        start = _parse_ts(node.get("startedAt")) or _EPOCH
        keyed.append(((start, _loop_index(name), name), nid))
    # Stable sorts: exact ties keep input order (argo's is map-order random). By start first,
    # then each run of one start as _sibling_cmp orders it: with a key where the whole run
    # has loop indexes, or none, as a 100,000-node group's does (a Python call per comparison
    # of 1.7 million took seconds).
    keyed.sort(key=lambda k: k[0][0])
    ordered: list[str] = []
    for _, run in itertools.groupby(keyed, key=lambda k: k[0][0]):
        same = list(run)
        if len(same) > 1:
            indexed = sum(k[0][1] >= 0 for k in same)
            same.sort(key=(lambda k: k[0][1]) if indexed == len(same) else
                      (lambda k: k[0][2]) if indexed == 0 else
                      functools.cmp_to_key(lambda x, y: _sibling_cmp(x[0], y[0])))
        ordered += [nid for _, nid in same]
    return ordered


def _build_children(nodes: dict[str, dict[str, Any]]) -> tuple[dict[str, list[str]], list[str]]:
    """Render children per node and the parentless roots, in two linear passes."""
    owned: set[str] = set()
    kids: dict[str, list[str]] = {}
    for nid, node in nodes.items():
        if node.get("type") in _GROUP_PARENTS:
            mine = [
                c for c in node.get("children") or () if nodes.get(c, {}).get("type") in _RENDERABLE
            ]
            kids[nid] = mine
            owned.update(mine)
    roots: list[str] = []
    for nid, node in nodes.items():
        if nid in owned or node.get("type") not in _RENDERABLE:
            continue
        boundary = node.get("boundaryID")
        if not boundary:
            roots.append(nid)
        elif nodes.get(boundary, {}).get("type") in _BOUNDARY:
            kids.setdefault(boundary, []).append(nid)
        # else: the boundary is missing; argo drops such nodes too.
    return kids, roots


def _hidden(node: dict[str, Any]) -> tuple[bool, bool]:
    """(hide this row, draw its children with group joints)."""
    ntype = node.get("type")
    if ntype == "StepGroup":
        return True, True
    if ntype == "Retry" and len(node.get("children") or ()) == 1:
        return True, False
    if ntype == "Skipped" and node.get("phase") == "Omitted":
        return True, False
    return False, False


def _joints(index: int, last: int, hidden: bool, indent: bool) -> tuple[str, str]:
    """(joint before this child, continuation under it)."""
    if hidden and indent:  # StepGroup members fan out from one line
        if last == 0:
            return "──", "  "
        if index == 0:
            return "┬─", "│ "
        return ("└─", "  ") if index == last else ("├─", "│ ")
    if hidden:  # single-attempt Retry: the attempt takes its place
        return "", ""
    return ("└─", "  ") if index == last else ("├─", "│ ")


def _template_of(node: dict[str, Any]) -> str:
    ref = node.get("templateRef")
    if ref:
        return f"{ref.get('name', '')}/{ref.get('template', '')}"
    return node.get("templateName") or ""


def _params(section: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if not section:
        return ()
    return tuple(
        (p.get("name", ""), str(p["value"]))
        for p in section.get("parameters") or ()
        if "value" in p
    )


def _icon(node: dict[str, Any]) -> str:
    if node.get("type") == "Suspend" and node.get("phase") == "Running":
        return SUSPEND_ICON
    return ICONS.get(node.get("phase") or "", "")


def _make_row(
    wf_name: str,
    nid: str,
    node: dict[str, Any],
    prefix: str,
    depth: int,
    on_exit: bool,
    now: datetime,
) -> Row:
    is_pod = node.get("type") == "Pod"
    seconds = _elapsed(node.get("startedAt"), node.get("finishedAt"), now) if is_pod else None
    outputs = node.get("outputs") or {}
    exit_code = outputs.get("exitCode")
    return Row(
        id=nid,
        prefix=prefix,
        depth=depth,
        icon=_icon(node),
        display_name=node.get("displayName") or node.get("name") or nid,
        template=_template_of(node),
        pod_name=pod_name(wf_name, node) if is_pod else "",
        duration=format_duration(seconds) if seconds is not None else "",
        message=node.get("message") or "",
        phase=node.get("phase") or "",
        type=node.get("type") or "",
        on_exit=on_exit,
        inputs=_params(node.get("inputs")),
        outputs=_params(outputs),
        result=outputs.get("result"),
        exit_code=None if exit_code is None else str(exit_code),
        artifacts=tuple(a.get("name", "") for a in outputs.get("artifacts") or ()),
    )


def _collapsed_row(left_out: list[str], nodes: dict[str, dict[str, Any]], prefix: str,
                   depth: int, on_exit: bool) -> Row:
    """The one row standing for a big group's children left out: how many, by phase."""
    phases: dict[str, int] = {}
    for nid in left_out:
        phase = nodes[nid].get("phase") or "Pending"
        phases[phase] = phases.get(phase, 0) + 1
    counts = ", ".join(f"{n:,} {phase}" for phase, n in sorted(phases.items()))
    return Row(id="", prefix=prefix, depth=depth, icon="…",
               display_name=f"{len(left_out):,} more ({counts}); --expand shows them",
               template="", pod_name="", duration="", message="", phase="", type="",
               on_exit=on_exit)


def _shown_children(children: list[str], nodes: dict[str, dict[str, Any]],
                    collapse: int | None) -> tuple[list[str], list[str]]:
    """(children drawn, in argo's order; children left out): a group of more than ``collapse``
    keeps only its first ``collapse`` that did not succeed, where the news is."""
    if collapse is None or len(children) <= collapse:
        return _sort_siblings(children, nodes), []
    shown = [c for c in children if nodes[c].get("phase") not in _QUIET][:collapse]
    kept = set(shown)
    return _sort_siblings(shown, nodes), [c for c in children if c not in kept]


def _walk(
    wf_name: str,
    root: str,
    nodes: dict[str, dict[str, Any]],
    kids: dict[str, list[str]],
    on_exit: bool,
    now: datetime,
    collapse: int | None = None,
) -> Iterator[Row]:
    # Explicit stack: recursive templates can nest deeper than Python's recursion limit.
    # A list instead of an id stands for a group's children left out: one row says so.
    stack: list[tuple[str | list[str], int, str, str]] = [(root, 0, " ", " ")]
    visited: set[str] = set()
    while stack:
        nid, depth, prefix, cont = stack.pop()
        if isinstance(nid, list):
            yield _collapsed_row(nid, nodes, prefix, depth, on_exit)
            continue
        if nid in visited:  # malformed status with a cycle: draw each node once
            continue
        visited.add(nid)
        node = nodes[nid]
        hidden, indent = _hidden(node)
        if not hidden:
            yield _make_row(wf_name, nid, node, prefix, depth, on_exit, now)
        shown, rest = _shown_children(kids.get(nid, []), nodes, collapse)
        children: list[str | list[str]] = [*shown, rest] if rest else list(shown)
        last = len(children) - 1
        pending = []
        for i, child in enumerate(children):
            part, sub = _joints(i, last, hidden, indent)
            if hidden:
                head = prefix if i == 0 else cont
                pending.append((child, depth, head + part, cont + sub))
            else:
                pending.append((child, depth + 1, cont + part, cont + sub))
        stack.extend(reversed(pending))


def node_tree(wf: dict[str, Any], *, now: datetime | None = None,
              collapse: int | None = None) -> list[Row]:
    """Rows of the workflow tree in `argo get` order: main tree, then the onExit tree.

    `now` fixes the clock used for durations of running pods; `collapse` collapses groups of
    more children than that. Linear in the number of nodes apart from sorting each node's
    siblings.
    """
    name = (wf.get("metadata") or {}).get("name", "")
    nodes: dict[str, dict[str, Any]] = (wf.get("status") or {}).get("nodes") or {}
    if name not in nodes:
        return []
    clock = _now(now)
    kids, roots = _build_children(nodes)
    rows = list(_walk(name, name, nodes, kids, False, clock, collapse))
    exit_name = f"{name}.onExit"
    for root in roots:
        if root != name and nodes[root].get("name") == exit_name:
            rows.extend(_walk(name, root, nodes, kids, True, clock, collapse))
            break
    return rows


# --- rich rendering ---


def _workflow_status(wf: dict[str, Any]) -> str:
    """Status as argo words it, including the suspended/terminated hints."""
    spec = wf.get("spec") or {}
    status = wf.get("status") or {}
    phase = status.get("phase") or ""
    if phase == "Running":
        nodes = (status.get("nodes") or {}).values()
        suspended = spec.get("suspend") or any(
            n.get("type") == "Suspend" and n.get("phase") == "Running" for n in nodes
        )
        return "Running (Suspended)" if suspended else phase
    if phase == "Failed" and spec.get("shutdown"):
        return "Failed (Terminated)"
    if phase in ("", "Pending", "Unknown"):
        return "Pending" if (wf.get("metadata") or {}).get("creationTimestamp") else "Unknown"
    return phase


def _status_style(status: str) -> str:
    if status.endswith("(Suspended)"):
        return STYLES["Suspended"]
    return STYLES.get(status.split(" ", 1)[0], "")


def _header(wf: dict[str, Any], now: datetime) -> Table:
    from rich.table import Table
    from rich.text import Text

    meta = wf.get("metadata") or {}
    status = wf.get("status") or {}
    grid = Table.grid(padding=(0, 1))
    grid.add_column(min_width=20, no_wrap=True)
    grid.add_column()

    def add(label: str, value: str | Text) -> None:
        grid.add_row(label, _rich_cell(value))  # a name or message: not markup

    add("Name:", meta.get("name", ""))
    add("Namespace:", meta.get("namespace", ""))
    shown = _workflow_status(wf)
    add("Status:", Text(shown, style=_status_style(shown)))
    if status.get("message"):
        add("Message:", status["message"])
    add("Created:", _timestamp(meta.get("creationTimestamp"), now))
    if status.get("startedAt"):
        add("Started:", _timestamp(status["startedAt"], now))
    if status.get("finishedAt"):
        add("Finished:", _timestamp(status["finishedAt"], now))
    seconds = _elapsed(status.get("startedAt"), status.get("finishedAt"), now)
    if seconds is not None:
        add("Duration:", _long_duration(seconds))
    if status.get("progress"):
        add("Progress:", status["progress"])
    _add_params(add, "Parameters:", _params((wf.get("spec") or {}).get("arguments")))
    _add_params(add, "Output Parameters:", _params(status.get("outputs")))
    return grid


def _add_params(
    add: Callable[[str, str], None], label: str, params: tuple[tuple[str, str], ...]
) -> None:
    if not params:
        return
    add(label, "")
    for name, value in params:
        add(f"  {name}:", value)


def _short(value: str, width: int = _VALUE_WIDTH) -> str:
    """One-line, bounded form of a parameter/result value for a table cell."""
    flat = value.replace("\r", "").replace("\n", "⏎")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _pairs(pairs: Iterable[tuple[str, str]]) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in pairs)


class LazyText:
    """A table cell's text, made a rich ``Text`` only if a rich Table draws it: making one
    costs 10 µs or more (it strips control codes), and a plain layout needs only the text."""

    __slots__ = ("_make", "plain")

    def __init__(self, parts: tuple[str, ...], make: Callable[[], Text]) -> None:
        self.plain = "".join(map(_printable, parts))
        self._make = make

    def text(self) -> Text:
        return self._make()


def _step_cell(row: Row) -> LazyText:
    def make() -> Text:
        from rich.text import Text

        text = Text(row.prefix)
        text.append(row.icon, style=_row_style(row))
        text.append(f" {row.display_name}")
        return text

    return LazyText((row.prefix, row.icon, f" {row.display_name}"), make)


def _message_cell(row: Row) -> LazyText:
    failed = row.phase in ("Failed", "Error")

    def make() -> Text:
        from rich.text import Text

        return Text(row.message, style="red" if failed else "")

    return LazyText((row.message,), make)


def _row_style(row: Row) -> str:
    if row.type == "Suspend" and row.phase == "Running":
        return STYLES["Suspended"]
    return STYLES.get(row.phase, "")


# --- tables that fit the terminal ---


@dataclass(frozen=True, slots=True)
class Column:
    """A FitTable column: ``drop`` ranks the columns that may be left out when the console is
    too narrow (1 goes first; 0 never goes); ``wrap`` wraps long cells instead of eliding them;
    ``minimum`` is the narrowest it gets (its title's width at least)."""

    title: str
    drop: int = 0
    wrap: bool = False
    minimum: int = 0


Cell: TypeAlias = "str | Text | LazyText"
_TELLING = 20  # a cell elided below this many columns says little


def _cell_width(cell: Cell) -> int:
    text = cell if isinstance(cell, str) else cell.plain
    if "\n" not in text:
        return _width(text)
    return max((_width(line) for line in text.splitlines()), default=0)


_PRINTABLE_ASCII = re.compile("[ -~]+")


def _width(text: str) -> int:
    """``cell_len``, fast: rich sums a width per character of any string that is not ASCII,
    which every tree row is (its joints and icon), while the rows' non-ASCII parts repeat."""
    if text.isascii() and text.isprintable():
        return len(text)
    if "\u200d" in text or "\ufe0f" in text:  # joined graphemes: measured whole
        return _rest_width(text)
    rest = _PRINTABLE_ASCII.sub("", text)
    return len(text) - len(rest) + _rest_width(rest)


@functools.lru_cache(maxsize=4096)
def _rest_width(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _capped(natural: list[int], minimum: list[int], cap: int) -> list[int]:
    return [max(low, min(n, cap)) for n, low in zip(natural, minimum, strict=True)]


def fit_widths(natural: list[int], minimum: list[int], room: int) -> list[int]:
    """Column widths within ``room``: the widest columns are narrowed first, none below its
    minimum; what the cap leaves over goes back to the narrowed ones, left to right."""
    if sum(natural) <= room:
        return natural
    low, high = 0, max(natural)
    while low < high:  # the largest cap that fits
        mid = (low + high + 1) // 2
        low, high = (mid, high) if sum(_capped(natural, minimum, mid)) <= room else (low, mid - 1)
    widths = _capped(natural, minimum, low)
    spare = room - sum(widths)
    for i, n in enumerate(natural):
        if spare <= 0:
            break
        extra = min(spare, n - widths[i])
        widths[i] += extra
        spare -= extra
    return widths


class FitTable:
    """A table that fits the console's width, where a rich Table squeezed into a narrow
    terminal breaks its titles over several lines: titles never wrap; if the table is too wide,
    the columns that may go are left out (and named under it), then the widest cells are
    elided with "…" (or wrapped, for ``wrap`` columns)."""

    def __init__(self, columns: list[Column], gap: int = 2) -> None:
        self.columns = columns
        self.gap = gap
        self.rows: list[tuple[list[Cell], str | None]] = []

    def add_row(self, *cells: Cell, style: str | None = None) -> None:
        self.rows.append((list(cells), style))

    def _natural(self) -> list[int]:
        widths = [_width(c.title) for c in self.columns]
        for cells, _ in self.rows:
            for i, cell in enumerate(cells):
                widths[i] = max(widths[i], _cell_width(cell))
        return widths

    def _kept(self, natural: list[int], minimum: list[int], room: int) -> list[int]:
        """Leave out droppable columns until the rest get a telling width (or none is left)."""
        telling = [min(n, max(low, _TELLING)) for n, low in zip(natural, minimum, strict=True)]
        keep = list(range(len(self.columns)))
        for _, i in sorted((c.drop, i) for i, c in enumerate(self.columns) if c.drop):
            if sum(telling[k] for k in keep) + self.gap * (len(keep) - 1) <= room:
                break
            keep.remove(i)
        return keep

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.segment import Segment
        from rich.text import Text

        room = options.max_width
        natural = self._natural()
        minimum = [max(_width(c.title), min(c.minimum, n))
                   for c, n in zip(self.columns, natural, strict=True)]
        keep = self._kept(natural, minimum, room)
        if sum(minimum[i] for i in keep) + self.gap * (len(keep) - 1) > room:
            minimum = [_width(c.title) for c in self.columns]  # narrower than wished
        widths = fit_widths([natural[i] for i in keep], [minimum[i] for i in keep],
                            room - self.gap * (len(keep) - 1))
        lines = self._plain_lines(console, keep, widths) if console.color_system is None else None
        if lines is not None:
            yield Segment("".join(f"{line}\n" for line in lines))
        else:
            yield self._table(keep, widths)
        left_out = [self.columns[i].title for i in range(len(self.columns)) if i not in keep]
        if left_out:
            yield Text(f"(not shown at {room} columns: {', '.join(left_out)})", style="dim")

    def _plain_lines(self, console: Console, keep: list[int],
                     widths: list[int]) -> list[str] | None:
        """The lines rich lays the table out as, when they carry no style (output that is not
        a terminal) and no cell needs wrapping or eliding; else None. Rich takes 0.5 ms a row
        (52 s for 100,000 nodes), joining padded strings a hundredth of that."""
        pad = " " * self.gap
        lines = []
        for cells in [[c.title for c in self.columns], *(cells for cells, _ in self.rows)]:
            line = []
            for i, width in zip(keep, widths, strict=True):
                text = _plain(console, cells[i]) if i < len(cells) else ""
                size = _width(text)
                if size > width or "\n" in text or "\t" in text:
                    return None
                line.append(text + " " * (width - size))
            lines.append(pad.join(line))
        return lines

    def _table(self, keep: list[int], widths: list[int]) -> Table:
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False,
                      padding=(0, self.gap, 0, 0), collapse_padding=True)
        for i, width in zip(keep, widths, strict=True):
            column = self.columns[i]
            table.add_column(column.title, width=width, no_wrap=not column.wrap,
                             overflow="fold" if column.wrap else "ellipsis")
        for cells, style in self.rows:
            table.add_row(*(_rich_cell(cells[i]) if i < len(cells) else "" for i in keep),
                          style=style)
        return table


def _rich_cell(cell: Cell) -> Text:
    from rich.text import Text

    if isinstance(cell, str):  # a name or message as written: never markup or emoji codes
        return Text(_printable(cell))
    return cell.text() if isinstance(cell, LazyText) else cell


def _plain(console: Console, cell: Cell) -> str:
    """A cell's text as rich draws it (:func:`_rich_cell`)."""
    return _printable(cell) if isinstance(cell, str) else cell.plain


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    from rich.control import strip_control_codes

    return strip_control_codes(text)


def _tree_table(rows: list[Row], wide: bool, hidden: int = 0) -> FitTable:
    from rich.text import Text

    # At 80 columns the wide view cannot hold all nine: its least telling columns go first.
    columns = [Column("STEP", minimum=16), Column("TEMPLATE"), Column("PODNAME", drop=3),
               Column("DURATION")]
    if wide:
        columns += [Column("INPUTS"), Column("OUTPUTS"), Column("EXITCODE", drop=2),
                    Column("ARTIFACTS", drop=1)]
    table = FitTable([*columns, Column("MESSAGE", wrap=True)])
    seen_exit = False
    for i, row in enumerate(rows):
        if i == 1 and hidden:
            table.add_row(Text(f" … {hidden} earlier rows not shown", style="dim"))
        if row.on_exit and not seen_exit:
            seen_exit = True
            table.add_row()  # blank line between the main and onExit trees, as argo
        dim = row.phase in ("Skipped", "Omitted")
        cells: list[Cell] = [_step_cell(row), row.template, row.pod_name, row.duration]
        if wide:
            outputs = list(row.outputs)
            if row.result is not None:
                outputs.append(("result", row.result))
            cells += [
                _pairs(row.inputs),
                _pairs(outputs),
                row.exit_code or "",
                ",".join(row.artifacts),
            ]
        cells.append(_message_cell(row))
        table.add_row(*cells, style="dim" if dim else None)
    return table


def render_workflow(
    wf: dict[str, Any],
    *,
    now: datetime | None = None,
    wide: bool = False,
    max_rows: int | None = None,
    collapse: int | None = COLLAPSE,
) -> RenderableType:
    """Header block plus node tree, like `argo get` (`wide` ~ `argo get -o wide`).

    `max_rows` keeps the root row and the newest rows (argo orders siblings by
    start time, so the tail is where a running workflow's activity is): a live
    screen cannot show more, and laying out 10,000 table rows takes seconds.
    `collapse` (None: draw every node) collapses big groups.
    """
    from rich.console import Group
    from rich.text import Text

    clock = _now(now)
    rows = node_tree(wf, now=clock, collapse=collapse)
    header = _header(wf, clock)
    if not rows:
        return header
    hidden = 0
    if max_rows is not None and len(rows) > max_rows:
        keep = max(max_rows - 2, 1)  # the root row and the "… not shown" line
        hidden = len(rows) - 1 - keep
        rows = [rows[0], *rows[-keep:]]
    return Group(header, Text(""), _tree_table(rows, wide, hidden))


# --- live terminal view ---


class LiveView:
    """Redraws the workflow in place on a terminal, at most `fps` times a second.

    `update()` only remembers the newest workflow when a redraw is not due, so
    a burst of updates costs one render per frame, not one per update.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        wide: bool = False,
        fps: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
        collapse: int | None = COLLAPSE,
    ) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console(stderr=True)
        self.wide = wide
        self.collapse = collapse
        self.redraws = 0
        self._interval = 1.0 / fps
        self._clock = clock
        self._next_draw = float("-inf")
        self._latest: dict[str, Any] | None = None
        self._dirty = False
        self._closed = False
        # transient: the live area is erased on close and replaced by one final print.
        self._live = Live(console=self.console, auto_refresh=False, transient=True)

    def start(self) -> LiveView:
        if not self._live.is_started:
            self._live.start()
        return self

    def update(self, wf: dict[str, Any]) -> None:
        self._latest = wf
        self._dirty = True
        if self._clock() >= self._next_draw:
            self._draw()

    def flush(self) -> None:
        """Draw the newest workflow now if an update is still waiting for a frame."""
        if self._dirty:
            self._draw()

    def close(self, final: dict[str, Any] | None = None) -> None:
        """Stop the live area and print the final tree once."""
        if self._closed:
            return
        self._closed = True
        if self._live.is_started:
            self._live.stop()
        final = final if final is not None else self._latest
        if final is not None:
            self.console.print(render_workflow(final, wide=self.wide, collapse=self.collapse))

    def _draw(self) -> None:
        assert self._latest is not None
        self.start()
        # Only what fits on screen is laid out; the final print shows every row.
        fits = max(self.console.size.height - _LIVE_CHROME, _LIVE_MIN_ROWS)
        view = render_workflow(self._latest, wide=self.wide, max_rows=fits,
                               collapse=self.collapse)
        self._live.update(view, refresh=True)
        self.redraws += 1
        self._dirty = False
        # Count from the end of the draw so slow renders of huge trees space themselves out.
        self._next_draw = self._clock() + self._interval

    def __enter__(self) -> LiveView:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- plain progress log for pipes and files ---


class PlainProgress:
    """One line per node phase change, for when output is not a terminal.

    Pass `changed` (node ids touched since the last call) to skip scanning
    every node; without it every node is compared against its last-seen phase.
    """

    def __init__(
        self, stream: TextIO | None = None, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self._stream = stream
        self._now = now or (lambda: datetime.now(UTC))
        self._seen: dict[str, str] = {}
        self._finished = False

    @property
    def stream(self) -> TextIO:
        # Resolved late so a redirected sys.stderr (e.g. under test capture) is honoured.
        return self._stream or sys.stderr

    def update(self, wf: dict[str, Any], changed: Iterable[str] | None = None) -> None:
        status = wf.get("status") or {}
        nodes: dict[str, dict[str, Any]] = status.get("nodes") or {}
        ids = nodes if changed is None else changed
        for nid in ids:
            node = nodes.get(nid)
            if node is not None:
                self._node(nid, node)
        if status.get("phase") in _WF_TERMINAL:
            self._finish(wf)

    def close(self, final: dict[str, Any]) -> None:
        """Report the last state; says the workflow's phase even if it never finished."""
        self.update(final)
        self._finish(final)

    def _node(self, nid: str, node: dict[str, Any]) -> None:
        phase = node.get("phase") or ""
        if node.get("type") not in _REPORTED or not phase or self._seen.get(nid) == phase:
            return
        self._seen[nid] = phase
        self._emit(self._node_line(node, phase))

    def _node_line(self, node: dict[str, Any], phase: str) -> str:
        started, finished = node.get("startedAt"), node.get("finishedAt")
        at = _parse_ts(finished if phase in _TERMINAL else started) or self._now()
        template = _template_of(node)
        label = node.get("name") or node.get("id", "")
        if template:
            label += f" ({template})"
        text = phase
        if phase in _TERMINAL and started and finished:
            text += f" {format_duration(_elapsed(started, finished, at) or 0)}"
        if node.get("message"):
            text += f": {node['message']}"
        return f"{_utc_stamp(at)} {label} {text}"

    def _finish(self, wf: dict[str, Any]) -> None:
        if self._finished:
            return
        self._finished = True
        status = wf.get("status") or {}
        name = (wf.get("metadata") or {}).get("name", "")
        line = f"Workflow {name} {status.get('phase') or 'Unknown'}"
        seconds = _elapsed(status.get("startedAt"), status.get("finishedAt"), self._now())
        if seconds is not None:
            line += f" in {format_duration(seconds)}"
        if status.get("message"):
            line += f": {status['message']}"
        self._emit(line)

    def _emit(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Nothing to release; exists so both views share the `with` protocol."""
