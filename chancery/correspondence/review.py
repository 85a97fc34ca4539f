"""Declassification review: sent dispatches whose `declassify_on` (or downgrade) date has
come wait in the security officers' queue, where each is confirmed (the marking change is
the existing, logged `change_marking` act), postponed to a later date, or refused — always
with a reason. Security officers read these dispatches under the gate's review branch."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.accounts.absences import acting_for
from chancery.accounts.models import User
from chancery.accounts.roles import Capability
from chancery.audit.services import record_event
from chancery.core.classification import Level
from chancery.core.db import Literal
from chancery.core.keyset import ordering
from chancery.correspondence.models import Dispatch, DispatchQuerySet, due_for_review
from chancery.correspondence.services import NotAllowed, _visible, change_marking
from chancery.correspondence.workday_policy import can_review_declassification
from chancery.correspondence.workflow_models import DeclassificationReview, ReviewDecision

__all__ = ["decide", "review_queue"]


# The queue's order (keyset pages, `core.keyset`): the oldest review date first.
REVIEW_ORDER = [("declassify_on", False), ("id", False)]


def review_queue(user: User) -> DispatchQuerySet:
    """Protected sent dispatches due for review that the officer may read, oldest date first."""
    if not can_review_declassification(user):
        return Dispatch.objects.none()._mark_gated()
    return (
        Dispatch.objects.visible_to(user)
        # Both bounds of the review date (`due_for_review`): SQLite guesses a one-sided range keeps
        # a quarter of the table and a two-sided one far less, so only the latter leads it to the
        # queue's index (`corr_dispatch_review`) rather than sorting every protected dispatch (0.6 vs
        # 600 ms at 1M).
        .filter(due_for_review(), classification__gt=Literal(Level.UNCLASSIFIED))
        .select_related("sending_unit", "data_key")  # compartment codes: `preload_compartment_codes`
        .order_by(*ordering(REVIEW_ORDER))
    )


@transaction.atomic
def decide(
    *,
    actor: User,
    dispatch: Dispatch | int,
    decision: str,
    reason: str,
    classification: int = Level.UNCLASSIFIED,
    compartments: Iterable[str] = (),
    postpone_to: date | None = None,
) -> DeclassificationReview:
    if not can_review_declassification(actor):
        raise NotAllowed(_("Reviewing markings needs the downgrade right."))
    current = _visible(actor, dispatch)
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Give a reason for the decision.")]
    if decision not in ReviewDecision.values:
        errors["decision"] = [_("Choose a decision.")]
    today = timezone.localdate()
    if current.declassify_on is None or current.declassify_on > today:
        errors.setdefault("decision", []).append(_("This dispatch is not due for review."))
    if decision == ReviewDecision.POSTPONE and (postpone_to is None or postpone_to <= today):
        errors["postpone_to"] = [_("Give a later review date.")]
    if errors:
        raise ValidationError(errors)
    due_on = current.declassify_on
    assert due_on is not None
    review = DeclassificationReview(
        dispatch=current,
        due_on=due_on,
        decision=decision,
        reason=reason,
        decided_by=actor,
        on_behalf_of=next(
            (
                p
                for p in (acting_for(actor, u, (Capability.DOWNGRADE,)) for u in actor.units_with(Capability.DOWNGRADE))
                if p is not None
            ),
            None,
        ),
    )
    if decision == ReviewDecision.CONFIRM:
        review.marking_change = change_marking(
            actor=actor,
            dispatch=current,
            classification=classification,
            compartments=compartments,
            reason=reason,
            declassify_on=None,
        )
    else:
        current.declassify_on = postpone_to if decision == ReviewDecision.POSTPONE else None
        review.postponed_to = current.declassify_on
        current.save(update_fields=["declassify_on", "updated_at"])
    review.save()
    record_event(
        action="correspondence.review_decided",
        actor=actor,
        target=current,
        details={
            "decision": decision,
            "reason": reason,
            "due_on": due_on.isoformat(),
            "postponed_to": postpone_to.isoformat() if postpone_to else None,
            "on_behalf_of": review.on_behalf_of.get_username() if review.on_behalf_of else None,
        },
    )
    return review
