"""Regression tests of the security review (correspondence)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chancery.accounts.models import User
from chancery.correspondence import services
from chancery.correspondence.models import Citation, Dispatch
from chancery.correspondence.tests.views_helpers import make_draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def cleared(ministry):
    """hom.dakar cleared Confidentiel, counsellor.dakar only Diffusion restreinte (same unit)."""
    User.objects.unrestricted("test").filter(username="hom.dakar").update(clearance_level=2)
    User.objects.unrestricted("test").filter(username="counsellor.dakar").update(clearance_level=1)
    for name in ("hom.dakar", "counsellor.dakar"):
        ministry.users[name] = User.objects.unrestricted("test").get(username=name)
    return ministry


def test_draft_form_shows_no_reference_the_editor_may_not_read(cleared, client_for):
    u = cleared.users
    confidential = services.send_dispatch(
        actor=u["hom.dakar"],
        dispatch=make_draft(cleared, author="hom.dakar", subject="Confidential matter", classification=2),
    )
    draft = make_draft(cleared, author="hom.dakar", subject="Open draft", cites=[confidential.reference],
                       external_references=["MAE/2026/77"])
    assert not Dispatch.objects.visible_to(u["counsellor.dakar"]).filter(pk=confidential.pk).exists()
    assert Dispatch.objects.visible_to(u["counsellor.dakar"]).filter(pk=draft.pk).exists()

    client = client_for("counsellor.dakar")
    response = client.get(reverse("correspondence:edit", args=[draft.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert confidential.reference not in html  # was pre-filled in the *Réf* field
    assert "MAE/2026/77" in html
    # Saving the draft keeps the citation the editor could not see (nothing silently lost).
    services.update_draft(actor=u["counsellor.dakar"], dispatch=draft, expected_version=draft.version,
                          cites=[], subject="Open draft, edited")
    assert Citation.objects.filter(citing=draft, cited=confidential).exists()
    # Whoever may read it can still remove it.
    draft.refresh_from_db()
    services.update_draft(actor=u["hom.dakar"], dispatch=draft, expected_version=draft.version, cites=[])
    assert not Citation.objects.filter(citing=draft, cited=confidential).exists()
