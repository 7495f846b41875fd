"""Domain packages are plain Python: nothing in them reaches for Reflex or Starlette, even indirectly."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "pkcrm_app"
DOMAIN_PACKAGES = ("core", "audit", "channels", "accounts", "crm", "inbox", "imports", "flows")
FORBIDDEN = ("reflex", "starlette")
DOMAIN_FILES = sorted(p for pkg in DOMAIN_PACKAGES for p in (PACKAGE_ROOT / pkg).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_files_were_found() -> None:
    assert {p.parent.name for p in DOMAIN_FILES} >= set(DOMAIN_PACKAGES)


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_no_direct_ui_or_web_import(path: Path) -> None:
    roots = imported_roots(ast.parse(path.read_text(), filename=str(path)))
    assert not roots & set(FORBIDDEN), f"{path.name} imports {sorted(roots & set(FORBIDDEN))}"


IMPORT_EACH = """
import importlib, json, sys
forbidden, culprits = sys.argv[1].split(","), {}
for name in sys.argv[2:]:
    importlib.import_module(name)
    loaded = sorted(m for m in forbidden if m in sys.modules)
    if loaded:
        culprits[name] = loaded
        break
print(json.dumps(culprits))
"""


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_no_transitive_ui_or_web_import(package: str) -> None:
    modules = [module_name(p) for p in DOMAIN_FILES if p.relative_to(PACKAGE_ROOT).parts[0] == package]
    command = [sys.executable, "-c", IMPORT_EACH, ",".join(FORBIDDEN), *modules]
    result = subprocess.run(command, capture_output=True, text=True, cwd=PACKAGE_ROOT.parent, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == {}, f"importing pulls in a forbidden package: {result.stdout}"
