"""No write without a trace: after a full scenario, every changed row is named by an audit entry.

Every table of every installed app is read before and after a scenario that goes through the
real services and pages (sign-in, administration, correspondence from draft to close and
downgrade, planning from draft to approval, key rotation). A row inserted, changed or deleted
must be named by an entry of the scenario — itself, or the object it belongs to (a routing by
its dispatch, a membership by its agent) — unless its table is in DERIVED, each with the reason
it needs no entry of its own. A bulk update or raw SQL that bypassed the audited services would
show up here as an unexplained row.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import models

from chancery.audit.models import AuditEvent
from chancery.backup.archive import backed_up_models, columns
from chancery.correspondence import services as correspondence
from chancery.correspondence.tests.domain_helpers import PDF, draft
from chancery.crypto.services import rotate_keys
from chancery.organisation.services import create_unit, update_unit
from chancery.planning import services as planning
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Indicator

pytestmark = pytest.mark.django_db

DERIVED = {
    "audit.auditevent": "the log itself",
    "audit.audithead": "the head of the log",
    "audit.auditcheckpoint": "signed statements about the log",
    "crypto.datakey": "created with the object it encrypts (audited), re-wrapped only by rotate-keys "
                      "(audited as crypto.keys_rotated)",
    "crypto.signingkey": "created on a unit's first signature, which is audited as the send",
    "crypto.hashkey": "the key of a kind of keyed hash, created on first use by an audited act (a protected "
                      "dispatch's tags or attachment), re-wrapped only by rotate-keys",
    "crypto.sealedterm": "a tag known by its keyed token, sealed when an audited act first stores it",
    "correspondence.numbercounter": "the last number used, derived from the sends (audited)",
    "accounts.loginthrottle": "counters of failed sign-ins, each audited as accounts.login_failed",
    "notifications.notification": "messages about audited acts, derived from them",
    "django_tasks_db.dbtaskresult": "the queue of background work",
}


def _snapshot() -> dict[str, dict[Any, tuple[Any, ...]]]:
    tables = {}
    for model in backed_up_models():
        names = [c.attname for c in columns(model)]
        tables[model._meta.label_lower] = {
            row[names.index(model._meta.pk.attname)]: row
            for row in model._base_manager.values_list(*names)
        }
    return tables


def _references(model: type[models.Model], row: tuple[Any, ...]) -> set[tuple[str, str]]:
    """The objects a row belongs to: (label, id) of every foreign key it holds."""
    found = set()
    for index, column in enumerate(columns(model)):
        if isinstance(column, models.ForeignKey) and row[index] is not None:
            found.add((column.related_model._meta.label_lower, str(row[index])))
    return found


def _scenario(ministry: Any, clients: dict[str, Any], client: Any) -> None:
    u, units = ministry.users, ministry.units
    # Sign-in through the real page, a failed one too.
    client.post("/accounts/login/", {"username": "clerk.dakar", "password": "wrong"})
    client.post("/accounts/login/", {"username": "clerk.dakar", "password": "Chancery-demo-2026"})
    # Administration.
    admin = u["admin"]
    unit = create_unit(actor=admin, parent=units["DAB/1"], code="DAB/1/AUD", name="Audit cell", kind="service")
    update_unit(actor=admin, unit=unit, name="Audit cell (renamed)")
    clients["admin"].post(f"/organisation/admin/agents/{u['clerk.dakar'].username}/edit/", {
        "first_name": "Awa", "last_name": "Diop", "email": "clerk.dakar@example.org",
        "lock_version": u["clerk.dakar"].lock_version,
    })
    # Correspondence: draft, attach, send, acknowledge, assign, reply, downgrade, grant, close.
    dispatch = draft(ministry, classification=1, attachments=[("note.pdf", PDF)])
    correspondence.update_draft(actor=u["counsellor.dakar"], dispatch=dispatch, expected_version=dispatch.version,
                                body="<p>Revised.</p>")
    sent = correspondence.send_dispatch(actor=u["hom.dakar"], dispatch=dispatch.pk)
    correspondence.acknowledge(actor=u["desk.dab1"], dispatch=sent)
    correspondence.assign(actor=u["head.dab1"], dispatch=sent, unit="DAB/1", assignee=u["desk.dab1"])
    answer = correspondence.reply(actor=u["desk.dab1"], dispatch=sent, body="<p>Noted.</p>")
    correspondence.send_dispatch(actor=u["head.dab1"], dispatch=answer)
    correspondence.grant_access(actor=u["hom.dakar"], dispatch=sent, reason="Review", user=u["security"])
    correspondence.change_marking(actor=u["security"], dispatch=sent, classification=0, reason="No longer sensitive")
    correspondence.close_routing(actor=u["desk.dab1"], dispatch=sent, unit="DAB/1")
    clients["desk.dab1"].get(f"/correspondence/{sent.pk}/")  # a read of protected content
    # Planning: build, edit, submit, approve, measure.
    programme = sample_programme(mission=units["DAKAR"], year=2026, user=u["counsellor.dakar"])
    action = Action.objects.unrestricted("test").filter(programme=programme).first()
    assert action is not None
    planning.update_action(user=u["counsellor.dakar"], action=action, lock_version=action.lock_version, progress=40)
    indicator = Indicator.objects.unrestricted("test").filter(programme=programme).first()
    assert indicator is not None
    planning.update_indicator(user=u["counsellor.dakar"], indicator=indicator, lock_version=indicator.lock_version,
                              label="Visits by ministers")
    planning.submit_programme(user=u["hom.dakar"], programme=programme)
    planning.approve_programme(user=u["plan.sg4"], programme=programme)
    planning.start_execution(user=u["hom.dakar"], programme=programme)
    planning.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="year",
                                period_start=date(2026, 1, 1), value=3)
    # Keys.
    rotate_keys()


def test_every_table_change_of_a_full_scenario_is_audited(ministry, client_for, client):
    # Signed-in test clients are made first: their shortcut sign-in is not part of the scenario.
    clients = {name: client_for(name) for name in ("admin", "desk.dab1")}
    before = _snapshot()
    first_event = (AuditEvent.objects.unrestricted("test").order_by("-sequence").values_list("sequence", flat=True)
                   .first() or 0) + 1
    _scenario(ministry, clients, client)
    after = _snapshot()
    events = AuditEvent.objects.unrestricted("test").filter(sequence__gte=first_event)
    named = {(e.object_type, e.object_id) for e in events}
    actions = {e.action for e in events}
    assert {"accounts.login", "accounts.login_failed", "crypto.keys_rotated"} <= actions
    by_label = {model._meta.label_lower: model for model in backed_up_models()}
    unexplained: list[str] = []
    changed_tables = set()
    for label, rows_after in after.items():
        if label in DERIVED:
            continue
        rows_before = before[label]
        for pk in rows_after.keys() | rows_before.keys():
            old, new = rows_before.get(pk), rows_after.get(pk)
            if old == new:
                continue
            changed_tables.add(label)
            row = new if new is not None else old
            assert row is not None
            if (label, str(pk)) in named or _references(by_label[label], row) & named:
                continue
            kind = "inserted" if old is None else "deleted" if new is None else "changed"
            unexplained.append(f"{label} #{pk} {kind}")
    # The scenario did touch the main tables (so the comparison means something)…
    assert {"correspondence.dispatch", "correspondence.routing", "correspondence.attachment",
            "organisation.unit", "accounts.user", "planning.programme", "planning.action",
            "planning.indicator"} <= changed_tables
    # …and every change is explained by an entry.
    assert unexplained == [], "\n".join(unexplained[:40])
