"""Services write and flush; they never commit. The flow, route, job or page state that called them owns the
transaction (DESIGN.md, Conventions), so a service can be composed into a larger unit of work and its domain
events leave only after the caller's commit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "pkcrm_app"
# The domain packages, lowest first; `flows`, `jobs`, `live`, `http`, `ui`, `dev` and the CLI are callers that
# own transactions. Packages not written yet are checked as soon as they exist.
SERVICE_PACKAGES = ("core", "storage", "audit", "channels", "accounts", "crm", "inbox", "imports", "analytics",
                    "automation", "privacy")
# The one transaction owner below the callers: the session scope every caller uses, which commits on success
# (and commits a recorded refusal, core/errors.py) on the caller's behalf.
ALLOWED = {("core/db.py", "Database.session")}
SERVICE_FILES = sorted(p for pkg in SERVICE_PACKAGES if (PACKAGE_ROOT / pkg).is_dir()
                       for p in (PACKAGE_ROOT / pkg).rglob("*.py"))


def commits(tree: ast.Module) -> list[tuple[str, int]]:
    """(qualified function name, line) of every `.commit()` call, anywhere in a module."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                visit(child, f"{scope}.{child.name}" if scope else child.name)
                continue
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                    and child.func.attr == "commit"):
                found.append((scope or "<module>", child.lineno))
            visit(child, scope)

    visit(tree, "")
    return found


def test_service_files_were_found() -> None:
    assert {p.relative_to(PACKAGE_ROOT).parts[0] for p in SERVICE_FILES} >= {"core", "accounts", "crm", "inbox"}


def test_the_check_sees_a_commit() -> None:
    tree = ast.parse("class S:\n    def save(self, db):\n        db.flush()\n        db.commit()\n")
    assert commits(tree) == [("S.save", 4)]


@pytest.mark.parametrize("path", SERVICE_FILES, ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_no_service_commits(path: Path) -> None:
    where = str(path.relative_to(PACKAGE_ROOT))
    found = [f"{where}:{line} in {name}" for name, line in commits(ast.parse(path.read_text(), filename=where))
             if (where, name) not in ALLOWED]
    assert found == [], "a service commits; let its caller own the transaction"
