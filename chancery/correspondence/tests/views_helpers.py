"""Dispatches for the view tests, built through the real services (no mocks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from chancery.correspondence import services
from chancery.correspondence.models import Dispatch, Routing

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SUBJECT = "Mangrove cooperation seminar preparations"
BODY = "<p>Quinoa delegation itinerary confirmed with pelican ministry.</p>"
SECRET_WORDS = ["Mangrove", "seminar", "Quinoa", "itinerary", "pelican"]


@dataclass
class World:
    sent: Dispatch  # DAKAR → DAB/1 (action, overdue), DG7/6 + SG/SEC (info); restricted, one PJ
    draft: Dispatch  # DAKAR draft, unclassified
    lima: Dispatch  # LIMA → DAM/2, out of scope for everyone in Dakar, DAB, SG

    def routing(self, dispatch: Dispatch, code: str) -> Routing:
        return next(r for r in Routing.objects.filter(dispatch=dispatch).select_related("unit") if r.unit.code == code)


def make_draft(ministry: Any, *, author: str = "counsellor.dakar", unit: str = "DAKAR", subject: str = SUBJECT,
               body: str = BODY, classification: int = 0, routings: Any = None, **extra: Any) -> Dispatch:
    routings = routings if routings is not None else [services.RoutingSpec(unit="DAB/1", kind="action")]
    return services.create_draft(
        actor=ministry.users[author], sending_unit=ministry.units[unit], subject=subject, body=body,
        classification=classification, routings=routings, **extra,
    )


def build_world(ministry: Any) -> World:
    yesterday = timezone.localdate() - timedelta(days=1)
    sent = make_draft(
        ministry,
        classification=1,
        routings=[
            services.RoutingSpec(unit="DAB/1", kind="action", due_date=yesterday),
            services.RoutingSpec(unit="DG7/6", kind="info"),
            services.RoutingSpec(unit="SG/SEC", kind="info"),
        ],
        tags=["SN"],
    )
    services.add_attachment(actor=ministry.users["counsellor.dakar"], dispatch=sent, filename="programme.pdf",
                            source=PDF)
    sent = services.send_dispatch(actor=ministry.users["hom.dakar"], dispatch=sent)
    draft = make_draft(ministry, subject="Draft about the harbour", body="<p>Harbour draft.</p>")
    lima = make_draft(ministry, author="counsellor.lima", unit="LIMA", subject="Lima only",
                      routings=[services.RoutingSpec(unit="DAM/2", kind="action")])
    services.add_attachment(actor=ministry.users["counsellor.lima"], dispatch=lima, filename="lima.pdf", source=PDF)
    lima = services.send_dispatch(actor=ministry.users["hom.lima"], dispatch=lima)
    return World(sent=sent, draft=draft, lima=lima)
