"""Helpers for the domain tests: build dispatches through the real services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chancery.correspondence import services
from chancery.correspondence.models import Dispatch

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def draft(
    ministry: Any,
    *,
    author: str = "counsellor.dakar",
    unit: str = "DAKAR",
    subject: str = "Semaine culturelle : programme provisoire",
    body: str = "<p>Le programme provisoire de la semaine culturelle est joint.</p>",
    routings: Iterable[tuple[str, str]] = (("DAB/1", "action"),),
    classification: int = 0,
    transmission: str = "clear",
    attachments: Iterable[tuple[str, bytes]] = (),
    **extra: Any,
) -> Dispatch:
    user = ministry.users[author]
    dispatch = services.create_draft(
        actor=user,
        sending_unit=ministry.units[unit],
        subject=subject,
        body=body,
        classification=classification,
        transmission=transmission,
        routings=[services.RoutingSpec(unit=code, kind=kind) for code, kind in routings],
        **extra,
    )
    for filename, data in attachments:
        services.add_attachment(actor=user, dispatch=dispatch, filename=filename, source=data)
    return dispatch


def sent(ministry: Any, *, head: str = "hom.dakar", **kwargs: Any) -> Dispatch:
    dispatch = draft(ministry, **kwargs)
    return services.send_dispatch(actor=ministry.users[head], dispatch=dispatch)


def inbox_keys_out_of_step() -> list[int]:
    """Ids of the routings whose stored inbox keys (`open_rank`, `due_key`, `sent_at`) disagree
    with their kind, status, due date and their dispatch's `sent_at` (expected: none)."""
    from chancery.correspondence.models import Routing

    rows = Routing.objects.unrestricted("test: every routing's keys").select_related("dispatch")
    return [
        r.pk
        for r in rows
        if (r.open_rank, r.due_key) != Routing.sort_keys(r.kind, r.status, r.due_date)
        or r.sent_at != r.dispatch.sent_at
    ]


def inbox_counts_by_the_gate(user: Any) -> dict[str, int]:
    """The inbox counters computed from the gate itself (`visible_to` on the dispatches, not the
    routings' copies of their marking): the oracle of `selectors.inbox_counts`."""
    from chancery.correspondence.models import RELEASED_STATUSES, Routing

    mine = sorted({m.unit_id for m in user.active_memberships()})
    readable = Dispatch.objects.visible_to(user).filter(status__in=RELEASED_STATUSES).values("pk")
    rows = Routing.objects.unrestricted("test oracle: routings of dispatches read through the gate").filter(
        unit_id__in=mine, dispatch_id__in=readable
    )
    return {
        "unacknowledged": rows.filter(kind="action", status="pending").count(),
        "unread": rows.filter(kind="info", status="unread").count(),
        "open": rows.filter(open_rank=1).count(),
    }


def inbox_counts_now(user: Any) -> dict[str, int]:
    from chancery.correspondence import selectors

    counts = selectors.inbox_counts(user, with_open=True)
    return {name: int(counts[name]) for name in ("unacknowledged", "unread", "open")}
