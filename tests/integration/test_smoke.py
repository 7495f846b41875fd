from sqlalchemy import select

from pkcrm_app.accounts.permissions import Role
from pkcrm_app.inbox.models import Message
from tests.support.data import make_org


def test_cast_can_be_built(database):
    org = make_org(database, "acme", "111", {"alice": Role.AGENT})
    with database.session() as db:
        assert db.scalars(select(Message)).all() == []
    assert org.users["alice"][1] == "alice@acme.test"
