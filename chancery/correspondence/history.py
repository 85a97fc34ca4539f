"""A dispatch's history, read from the audit log, as far as the reader may see it.

Everyone who reads the dispatch sees what happened to it once sent; the drafting steps
(circuit, remarks' existence, edits) only those who could see the draft — the sending unit
and the circuit's participants; reads and exports only the auditors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chancery.accounts.roles import Capability
from chancery.audit.models import AuditEvent
from chancery.correspondence.models import Dispatch
from chancery.correspondence.workflow_models import CircuitStep, Opinion, ReviewDecision

if TYPE_CHECKING:
    from chancery.accounts.models import User

LABELS: dict[str, Any] = {
    "correspondence.draft_created": _("Draft created"),
    "correspondence.draft_updated": _("Draft changed"),
    "correspondence.attachment_added": _("Attachment added"),
    "correspondence.attachment_removed": _("Attachment removed"),
    "correspondence.submitted": _("Submitted for validation"),
    "correspondence.visa_given": _("Visa given"),
    "correspondence.opinion_given": _("Opinion given"),
    "correspondence.returned": _("Returned to the drafter with a remark"),
    "correspondence.withdrawn": _("Withdrawn from validation"),
    "correspondence.validated": _("Validated"),
    "correspondence.sent": _("Signed and sent"),
    "correspondence.registered": _("Registered"),
    "correspondence.acknowledged": _("Receipt acknowledged"),
    "correspondence.assigned": _("Assigned"),
    "correspondence.marked_read": _("Marked as read"),
    "correspondence.routing_closed": _("Closed"),
    "correspondence.marking_changed": _("Marking changed"),
    "correspondence.access_granted": _("Access granted"),
    "correspondence.review_decided": _("Declassification review"),
    "correspondence.note_added": _("Internal note added"),
    "correspondence.read": _("Protected content read"),
    "correspondence.attachment_downloaded": _("Attachment downloaded"),
    "correspondence.package_exported": _("Signed package exported"),
}
PRE_SEND = {
    "correspondence.draft_created",
    "correspondence.draft_updated",
    "correspondence.attachment_added",
    "correspondence.attachment_removed",
    "correspondence.submitted",
    "correspondence.visa_given",
    "correspondence.opinion_given",
    "correspondence.returned",
    "correspondence.withdrawn",
    "correspondence.validated",
}
AUDITORS_ONLY = {"correspondence.read", "correspondence.attachment_downloaded", "correspondence.package_exported"}


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    label: str
    actor: str
    unit: str
    on_behalf_of: str
    extra: str


def saw_draft(user: User, dispatch: Dispatch, unit_ids: set[int] | None = None) -> bool:
    """Whether the reader could see the dispatch as a draft (its sending unit, a participant
    of its circuit): only they see the drafting steps and the circuit's remarks."""
    if unit_ids is None:
        unit_ids = {m.unit_id for m in user.active_memberships()}
    if dispatch.sending_unit_id in unit_ids:
        return True
    # Named on a step, or their unit's on a step for anyone of it: one EXISTS.
    named_or_unit = Q(assignee_id=user.pk) | Q(assignee__isnull=True, unit_id__in=unit_ids)
    return CircuitStep.objects.filter(named_or_unit, dispatch=dispatch).exists()


def history(user: User, dispatch: Dispatch) -> list[HistoryEntry]:
    """The events of a dispatch the reader read through the gate, oldest first."""
    unit_ids = {m.unit_id for m in user.active_memberships()}
    auditor = user.is_superuser or user.has_capability(Capability.READ_AUDIT)
    hidden = set() if auditor else set(AUDITORS_ONLY)
    if not saw_draft(user, dispatch, unit_ids):
        hidden |= PRE_SEND
    events = (
        AuditEvent.objects.unrestricted("history of a dispatch the reader reads (filtered below)")
        .filter(object_type="correspondence.dispatch", object_id=str(dispatch.pk), action__in=list(LABELS))
        .exclude(action__in=sorted(hidden))
        .select_related("actor")
        .order_by("sequence")
    )
    entries = []
    for event in events:
        details = event.details or {}
        extra = ""
        if event.action == "correspondence.sent" and details.get("reference"):
            extra = str(details["reference"])
        elif event.action == "correspondence.opinion_given" and details.get("opinion") in Opinion.values:
            extra = str(Opinion(details["opinion"]).label)
        elif event.action == "correspondence.review_decided" and details.get("decision") in ReviewDecision.values:
            extra = str(ReviewDecision(details["decision"]).label)
        entries.append(
            HistoryEntry(
                at=event.created_at,
                label=str(LABELS[event.action]),
                actor=str(event.actor) if event.actor else event.actor_label,
                unit=str(details.get("unit") or ""),
                on_behalf_of=str(details.get("on_behalf_of") or ""),
                extra=extra,
            )
        )
    return entries
