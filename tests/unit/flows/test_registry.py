"""The registry is the one list of what an organisation holds: a table or a blob scope it does not name would
survive the organisation's deletion, so these tests fail as soon as one is added without an entry."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from pkcrm_app.flows import registry
from pkcrm_app.flows.organisation_deletion import _org_tables, _rows_of


def test_every_table_is_named_once() -> None:
    named = [t.name for group in (registry.ORGANISATION_ROWS, registry.KEPT_ROWS, registry.OTHER_ROWS)
             for t in registry.tables(group)]
    assert sorted(named) == sorted(set(named)), "a table is named in two groups"
    assert sorted(set(registry.metadata().tables) - set(named)) == [], "tables the registry does not name"


def test_every_table_with_an_org_id_goes_with_its_organisation_or_is_kept_on_purpose() -> None:
    with_org = {t.name for t in registry.metadata().sorted_tables if "org_id" in t.c}
    covered = {t.name for t in registry.tables(registry.ORGANISATION_ROWS + registry.KEPT_ROWS)}
    assert sorted(with_org - covered) == []


def test_each_organisation_table_finds_its_rows_by_org_id_or_through_its_parent() -> None:
    for table in registry.tables(registry.ORGANISATION_ROWS):
        assert _rows_of(table, 1) is not None  # raises for a table with no way to its organisation


def test_children_go_before_their_parents() -> None:
    order = [t.name for t in _org_tables()]
    assert order.index("message_media") < order.index("message") < order.index("conversation")
    assert order.index("lead") < order.index("pipeline") and order.index("access_review_item") < order.index(
        "access_review")


def test_the_deletion_flow_imported_on_its_own_sees_every_table() -> None:
    """Before the registry, deletion read Base.metadata, which held only the tables someone had imported."""
    code = ("import json; from pkcrm_app.flows.organisation_deletion import _org_tables;"
            " from pkcrm_app.core.db import Base;"
            " print(json.dumps([[t.name for t in _org_tables()], sorted(Base.metadata.tables)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    deleted, known = json.loads(out)
    assert sorted(deleted) == sorted(t.name for t in registry.tables(registry.ORGANISATION_ROWS))
    assert known == sorted(registry.metadata().tables)


PACKAGE_ROOT = Path(registry.__file__).resolve().parents[1]


def declared_blob_scopes() -> dict[str, str]:
    """Every `BlobScope("name")` written anywhere in the app: scope name -> the file declaring it."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "BlobScope"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                found[str(node.args[0].value)] = str(path.relative_to(PACKAGE_ROOT))
    return found


def test_every_blob_scope_goes_with_its_organisation() -> None:
    declared = declared_blob_scopes()
    assert {"media", "outbound-media", "imports"} <= set(declared)  # the scan finds them
    named = [scope.name for scope in registry.ORGANISATION_FILES]
    assert sorted(named) == sorted(set(named)), "a scope is named twice"
    missing = {name: where for name, where in declared.items() if name not in named}
    assert missing == {}, "blob scopes the registry does not name (they would survive an organisation's deletion)"


def test_job_kinds_are_named_once_and_found_by_name() -> None:
    names = [kind.name for kind in registry.JOB_KINDS]
    assert sorted(names) == sorted(set(names))
    assert {"inbox.outbox", "inbox.media_download", "imports.chat_import", "storage.reseal_blobs"} <= set(names)
    assert all(registry.job_kind(name).name == name for name in names)
