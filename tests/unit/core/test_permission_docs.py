"""The README's permission table says exactly what the code enforces."""

from pathlib import Path

from pkcrm_app.core.authz import ROLE_PERMISSIONS, Permission, Role

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_matrix_matches_the_code() -> None:
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| permission |"))
    header, rows = lines[start], []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    roles = [Role(cell.strip()) for cell in header.strip("|").split("|")[1:]]
    documented = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        permission = Permission(cells[0].strip("`"))
        documented[permission] = {role for role, cell in zip(roles, cells[1:], strict=True) if cell == "yes"}
    assert set(documented) == set(Permission)
    for permission, allowed in documented.items():
        assert allowed == {role for role in Role if permission in ROLE_PERMISSIONS[role]}, permission
