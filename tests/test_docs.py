"""The documentation in docs/ is what the code refers to: every ``docs/FILE.md#anchor`` named in the
code, the tests, the benchmarks, the app and the README exists, and so does every link between the
pages of docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = [*sorted((ROOT / "eventprop").rglob("*.py")), *sorted((ROOT / "tests").rglob("*.py")),
           *sorted((ROOT / "benchmarks").rglob("*.py")), *sorted((ROOT / "app").rglob("*.py")),
           ROOT / "README.md"]
SOURCES = [p for p in SOURCES if p.name != "test_docs.py"]
# docs/maths.md, docs/maths.md#adjoint-jumps (a reference in code or in the README)
CODE_REF = re.compile(r"docs/([A-Za-z0-9_]+\.md)(?:#([A-Za-z0-9_\-]+))?")
# [text](maths.md#adjoint-jumps) or [text](#adjoint-jumps) (a link inside docs/)
DOC_LINK = re.compile(r"\]\(((?:[A-Za-z0-9_]+\.md)?)(?:#([A-Za-z0-9_\-]+))?\)")


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor of a page: its headings' slugs and its explicit ``<a id="...">`` tags."""
    text = page.read_text(encoding="utf-8")
    found = {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}
    found |= set(re.findall(r'<a id="([^"]+)"', text))
    return found


def test_slug_follows_the_github_rule():
    assert slug("DEBUG_HIDDEN_N columns") == "debug_hidden_n-columns"
    assert slug("Defaults and the original's tables") == "defaults-and-the-originals-tables"
    assert slug("Time-constant gradients") == "time-constant-gradients"


def _code_refs():
    refs = []
    for path in SOURCES:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in CODE_REF.finditer(line):
                refs.append((f"{path.relative_to(ROOT)}:{n}", m.group(1), m.group(2)))
    return refs


def test_the_code_refers_to_docs_pages():
    assert len(_code_refs()) > 100  # the references replaced those to documents not in the repo


@pytest.mark.parametrize("where, page, anchor", _code_refs(), ids=lambda v: str(v))
def test_every_docs_reference_in_the_code_exists(where, page, anchor):
    target = DOCS / page
    assert target.is_file(), f"{where}: docs/{page} does not exist"
    if anchor:
        assert anchor in anchors(target), f"{where}: docs/{page} has no section #{anchor}"


def test_every_link_between_docs_pages_exists():
    broken = []
    for page in sorted(DOCS.glob("*.md")):
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for m in DOC_LINK.finditer(line):
                target = DOCS / m.group(1) if m.group(1) else page
                if not target.is_file() or (m.group(2) and m.group(2) not in anchors(target)):
                    broken.append(f"{page.name}:{n}: {m.group(0)}")
    assert not broken, "broken links: " + "; ".join(broken)


def test_no_reference_to_documents_outside_the_repository():
    banned = re.compile(r"spec §|§\d|architecture\.md|eventprop-seed")
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if banned.search(line)]
    assert not hits, "references to documents outside the repository: " + ", ".join(hits)
