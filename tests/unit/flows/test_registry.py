"""The registry is the one list of what an organisation holds: a table or a file folder it does not name would
survive the organisation's deletion, so these tests fail as soon as one is added without an entry."""

from __future__ import annotations

import json
import subprocess
import sys

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


def test_every_file_folder_of_an_organisation_is_its_own() -> None:
    for folder in registry.ORGANISATION_FILES:
        assert folder(7) != folder(8) and "7" in folder(7).parts
