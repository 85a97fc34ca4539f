import pytest
from chancery.core.tests import test_gate_urls as walk

@pytest.mark.django_db
@pytest.mark.parametrize("username", walk.ROLE_USERS)
def test_planning_routes(ministry, username, monkeypatch):
    monkeypatch.setattr(walk, "ALL_ROUTES", [r for r in walk.ALL_ROUTES if r.name.startswith("planning:")])
    walk.test_every_view_goes_through_the_gate_for_every_role(ministry, username)

def test_params():
    print(sorted({(r.name, p) for r in walk.ALL_ROUTES for p in r.parameters if p not in walk.URL_PARAMETER_MODELS}))
