"""The documentation site builds with warnings as errors, its internal links and anchors all
resolve, its generated pages are fresh and its configuration page names every setting."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import REPO

DOCS = REPO / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mkdocs build --strict``, as the README says, into a temporary directory."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert not warnings, "\n".join(warnings)
    return out


# ---- links ----------------------------------------------------------------------------------


class Page(HTMLParser):
    """A built page's ids (anchors) and the links it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"] or "")
        if found.get("name") and tag == "a":
            self.ids.add(found["name"] or "")
        for attr in ("href", "src"):
            if found.get(attr) and (tag, attr) in (("a", "href"), ("img", "src"),
                                                   ("link", "href"), ("script", "src")):
                self.links.append(found[attr] or "")


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(errors="replace"))
    return page


def target_file(site: Path, page: Path, path: str) -> Path:
    """The file a link's path names: from the site's root when absolute (the 404 page's links
    are), a directory's index.html."""
    base = site if path.startswith("/") else page.parent
    target = (base / unquote(path.lstrip("/"))).resolve() if path else page
    return target / "index.html" if path.endswith("/") or target.is_dir() else target


def broken_links(site: Path) -> list[str]:
    """Every internal link of the built site whose file or anchor is missing."""
    site = site.resolve()
    pages = {p: parse(p) for p in site.rglob("*.html")}
    broken = []
    for page, parsed in pages.items():
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "data:")):
                continue  # external: not checked (no network)
            target = target_file(site, page, parts.path)
            where = f"{page.relative_to(site)}: {link}"
            if not target.is_relative_to(site):
                broken.append(f"{where} (outside the site)")
            elif not target.is_file():
                broken.append(f"{where} (no {target.relative_to(site)})")
            elif parts.fragment and target.suffix == ".html":
                ids = (pages.get(target) or parse(target)).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where} (no anchor #{parts.fragment})")
    return broken


def test_the_site_builds_strictly_and_every_internal_link_resolves(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert broken_links(site) == []


def test_the_link_check_finds_a_missing_page_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text('<h2 id="here">x</h2>')
    (tmp_path / "index.html").write_text(
        '<a href="a/#here">ok</a><a href="a/#gone">anchor</a><a href="b/">page</a>'
        '<a href="https://example.org/x">external</a><a href="#top">self</a>')
    assert broken_links(tmp_path) == [
        "index.html: a/#gone (no anchor #gone)", "index.html: b/ (no b/index.html)",
        "index.html: #top (no anchor #top)"]


# ---- generated pages ------------------------------------------------------------------------


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", sorted(generator().PAGES))
def test_the_generated_page_is_fresh(page: str) -> None:
    current = (DOCS / page).read_text()
    assert current == generator().PAGES[page](), (
        f"docs/{page} is stale: python docs/generate.py")


def test_the_cli_reference_has_every_verb() -> None:
    from argosy.cli import main

    text = (DOCS / "reference" / "cli.md").read_text()
    for name in main.list_commands(None):  # type: ignore[arg-type]
        assert f"## argosy {name}\n" in text


# ---- configuration --------------------------------------------------------------------------

SOURCES = [REPO / "core", REPO / "plugins", REPO / "jupyter_ext"]
# Variables argosy sets for a step's own shell wrapper and artifact agent in a pod, not
# settings a user sets.
INTERNAL = {"ARGOSY_SCRIPT", "ARGOSY_OUTPUTS", "ARGOSY_MESSAGE", "ARGOSY_ARTIFACTS",
            "ARGOSY_POD_TOKEN", "ARGOSY_AFTER", "ARGOSY_DONE", "ARGOSY_MARK", "ARGOSY_RESULT",
            "ARGOSY_ARTIFACT_PLAN", "ARGOSY_DONE_FILE", "ARGOSY_ALIVE"}


def source_text() -> str:
    return "\n".join(p.read_text() for root in SOURCES for p in root.rglob("*.py"))


def test_every_setting_is_on_the_configuration_page() -> None:
    from argosy.jupyter_ext.app import ArgosyConfig

    page = (DOCS / "reference" / "configuration.md").read_text()
    code = source_text()
    variables = set(re.findall(r"\bARGOSY_[A-Z][A-Z_]*[A-Z]\b", code)) - INTERNAL
    keys = set(re.findall(r"settings\([^)]*\)\.get\(\"(\w+)\"", code))
    traits = set(ArgosyConfig.class_trait_names(config=True))
    assert {"ARGOSY_HOME", "ARGOSY_LOG_LIMIT"} <= variables and {"store", "executor"} <= keys
    assert "run_engine" in traits
    missing = sorted(f"{name}" for name in variables | keys | traits if f"`{name}`" not in page)
    assert not missing, f"docs/reference/configuration.md does not name: {missing}"


def test_the_readme_links_to_pages_that_exist() -> None:
    links = re.findall(r"\]\(((?:docs|examples)/[^)#]+)", (REPO / "README.md").read_text())
    assert "docs/getting-started/install.md" in links
    assert [link for link in links if not (REPO / link).is_file()] == []
