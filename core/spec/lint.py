"""``argosy lint``: find every fault in a Workflow manifest, given as plain dicts.

The checks follow Argo's ``workflow/validate/validate.go`` (what ``argo lint`` does), but collect
every fault instead of stopping at the first, and name each by its document path
(``spec.templates[2].dag.tasks[1].depends``) so it can be pointed at in the source file.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any

from argosy.errors import Fault
from argosy.spec.lint_fields import BUILTIN_TEMPLATE_TYPES, UNSUPPORTED, FieldChecks
from argosy.spec.lint_scopes import VariableChecks, _Globals
from argosy.spec.lint_steps_dag import StepsDagChecks
from argosy.spec.lint_templates import TemplateChecks
from argosy.spec.lint_workflow import API_VERSION, WorkflowChecks

__all__ = ["API_VERSION", "BUILTIN_TEMPLATE_TYPES", "UNSUPPORTED", "TemplateValidator", "lint",
           "lint_documents"]

TemplateValidator = Callable[[Any, str], list[Fault]]
Locator = Callable[[str], "tuple[int, int] | None"]


def _parent(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


def _document_order(value: Any, path: str = "", out: dict[str, int] | None = None) -> dict:
    out = {} if out is None else out
    out[path] = len(out)
    if isinstance(value, dict):
        for key, item in value.items():
            _document_order(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _document_order(item, f"{path}[{index}]", out)
    return out


# --- the linter --------------------------------------------------------------------------------


class _Linter(WorkflowChecks, TemplateChecks, StepsDagChecks, VariableChecks, FieldChecks):
    """Collects the faults of one document; its checks are grouped in the mixins."""

    def __init__(
        self,
        file: str | None,
        locate: Locator | None,
        types: Mapping[str, TemplateValidator | None],
        strict: bool = True,
        honoured: frozenset[str] = frozenset(),
        unsupported: Mapping[str, str] | None = None,
        functions: Collection[str] | None = None,
    ):
        self.file = file
        self.locate = locate
        self.types = types
        self.strict = strict
        self.honoured = honoured  # UNSUPPORTED fields the chosen executor honours
        self.unsupported = {**UNSUPPORTED, **(unsupported or {})}
        self.functions = functions
        self.faults: list[Fault] = []
        self.templates: dict[str, dict] = {}
        self.spec: dict = {}
        self.globals = _Globals(set())

    # faults

    def add(self, path: str, message: str) -> None:
        where = self.locate(path) if self.locate else None
        line, column = where if where else (None, None)
        self.faults.append(Fault(path, message, self.file, line, column))

    def adopt(self, fault: Fault) -> None:
        """Take a fault from a template-type validator, filling in where it is."""
        if fault.file is None and self.file is not None:
            fault = replace(fault, file=self.file)
        if fault.line is None and self.locate:
            where = self.locate(fault.path)
            if where:
                fault = replace(fault, line=where[0], column=where[1])
        self.faults.append(fault)

    # result

    def finish(self, doc: Any) -> list[Fault]:
        order = _document_order(doc)

        def position(fault: Fault) -> int:
            path = fault.path
            while path not in order and path:
                path = _parent(path)
            return order.get(path, 0)

        unique = list(dict.fromkeys(self.faults))
        return sorted(unique, key=position)


# --- public API --------------------------------------------------------------------------------


def lint(
    doc: Any,
    *,
    file: str | None = None,
    locate: Locator | None = None,
    template_types: Mapping[str, TemplateValidator] | None = None,
    strict: bool = True,
    honoured: frozenset[str] = frozenset(),
    unsupported: Mapping[str, str] | None = None,
    functions: Collection[str] | None = None,
) -> list[Fault]:
    """Every fault in one Workflow document, in document order.

    References to WorkflowTemplates are checked where they are resolved, against a store
    (``argosy.spec.refs.resolve_references``): lint the resolved document.

    ``locate`` maps a document path to (line, column); ``template_types`` maps each template-type
    key (``container``, ``dag``, ``http``, ...) to a validator of that key's body. Without it, the
    built-in Argo types are known and their bodies are not validated. ``strict`` (Argo's
    ``lint --strict``, its default) makes a field Argo's schema does not know a fault.
    ``honoured``: the fields of :data:`UNSUPPORTED` the workflow's executor honours (pods);
    ``unsupported``: more fields it cannot honour, with the reason, as in :data:`UNSUPPORTED`.
    ``functions`` names the plugins' expression functions: with it, a ``{{= f(…) }}`` calling a
    function that is neither Argo's nor one of them is a fault.
    """
    types: Mapping[str, TemplateValidator | None] = (
        dict.fromkeys(BUILTIN_TEMPLATE_TYPES) if template_types is None else template_types
    )
    linter = _Linter(file, locate, types, strict, honoured, unsupported, functions)
    linter.check_document(doc)
    return linter.finish(doc)


def lint_documents(
    docs: Iterable[Any],
    template_types: Mapping[str, TemplateValidator] | None = None,
    strict: bool = True,
    functions: Collection[str] | None = None,
) -> list[Fault]:
    """Lint loaded documents (``argosy.spec.loader.Document``), e.g. for ``argosy lint FILE...``."""
    faults: list[Fault] = []
    for doc in docs:
        faults += lint(doc.data, file=doc.file, locate=doc.locate, template_types=template_types,
                       strict=strict, functions=functions)
    return faults
