"""Notifications for correspondence events, from the domain's after-commit signals.

- a dispatch is sent (or an incoming one registered): the agents who handle attributions
  (`HANDLE_ATTRIBUTION`) in each unit it is attributed to;
- an attribution is assigned: the assigned agent.

Only agents who may read the dispatch (the permission gate) are told. A failure here is
logged and never breaks the action that caused it (the dispatch is already sent).
"""

from __future__ import annotations

import logging
from typing import Any

from django.urls import reverse

from chancery.accounts.roles import Capability
from chancery.notifications.models import Verb
from chancery.notifications.services import memberships_of, notify, unit_members_with

logger = logging.getLogger(__name__)


def _readers(dispatch: Any, users: list[Any]) -> list[Any]:
    from chancery.correspondence.models import Dispatch

    return [u for u in users if Dispatch.objects.visible_to(u).filter(pk=dispatch.pk).exists()]


def _url(dispatch: Any) -> str:
    return reverse("correspondence:detail", args=[dispatch.pk])


def on_dispatch_sent(sender: Any, *, dispatch: Any, actor: Any = None, **kwargs: Any) -> None:
    from chancery.correspondence.models import Routing, RoutingKind

    try:
        units = [
            r.unit_id
            for r in Routing.objects.of_dispatch(dispatch).filter(kind=RoutingKind.ACTION).only("unit_id")
        ]
        people = unit_members_with(units=units, capability=Capability.HANDLE_ATTRIBUTION)
        # A unit where nobody handles attributions (a planning or inspection division, say)
        # must still hear of what is sent to it for action: all its agents are told.
        handled = {m.unit_id for m in memberships_of(people, units)}
        unhandled = [u for u in units if u not in handled]
        if unhandled:
            people += unit_members_with(units=unhandled, capability=None)
        notify(
            recipients=_readers(dispatch, people),
            # A reply is told as such: the unit is waiting for it.
            verb=Verb.DISPATCH_ANSWERED if dispatch.in_reply_to_id else Verb.DISPATCH_ATTRIBUTED,
            target=dispatch,
            url=_url(dispatch),
            actor=actor,
        )
    except Exception:  # the dispatch is sent whatever happens here
        logger.exception("notification of sent dispatch %s failed", dispatch.pk)


def on_routing_assigned(sender: Any, *, routing: Any, actor: Any = None, **kwargs: Any) -> None:
    try:
        assignee = routing.assigned_to
        if assignee is None:
            return
        dispatch = routing.dispatch
        notify(
            recipients=_readers(dispatch, [assignee]),
            verb=Verb.DISPATCH_ASSIGNED,
            target=dispatch,
            url=_url(dispatch),
            actor=actor,
        )
    except Exception:
        logger.exception("notification of assigned routing %s failed", routing.pk)


def connect() -> None:
    try:
        from chancery.correspondence import signals
    except ImportError:  # pragma: no cover - correspondence is always installed with notifications
        return
    signals.dispatch_sent.connect(on_dispatch_sent, dispatch_uid="notifications.dispatch_sent")
    signals.routing_assigned.connect(on_routing_assigned, dispatch_uid="notifications.routing_assigned")
