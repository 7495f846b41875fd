"""The route table is the one list of pages: what the app adds and what the navigation links to."""

from __future__ import annotations

from pkcrm_app.core.authz import Permission
from pkcrm_app.ui.components.layout import Nav
from pkcrm_app.ui.routes import ROUTES, navigation


def test_each_path_is_one_page_with_a_title_and_a_loader() -> None:
    paths = [route.path for route in ROUTES]
    assert len(paths) == len(set(paths))
    assert all(route.on_load is not None and route.page_title.endswith(" · PK WhatsApp CRM") for route in ROUTES)


def test_the_navigation_comes_from_the_table_in_its_order() -> None:
    main = [(route.nav_label, route.nav_id, route.permission) for route in navigation(Nav.MAIN)]
    assert main == [("Board", "nav-board", None), ("Import chats", "nav-import", None),
                    ("Members", "nav-members", Permission.MEMBERS_MANAGE),
                    ("Audit log", "nav-audit", Permission.AUDIT_VIEW),
                    ("Settings", "nav-settings", Permission.SETTINGS_MANAGE)]
    assert [route.nav_id for route in navigation(Nav.ADMIN)] == ["nav-reviews"]
    assert [route.nav_id for route in navigation(Nav.SELF)] == ["nav-profile"]
