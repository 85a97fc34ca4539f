from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_signed_in_agent_sees_the_units_tree(client_for):
    response = client_for("counsellor.dakar").get("/organisation/")
    assert response.status_code == 200
    assert "DAKAR" in response.content.decode()
