"""`chancery generate notifications`: the notifications a ministry's agents hold (benchmarks).

An agent is told of every dispatch routed to their unit (`Verb.DISPATCH_ATTRIBUTED` or
`DISPATCH_FOR_INFORMATION`, as `correspondence.receivers` does when a dispatch is sent): here,
for each unit, its latest `--per-unit` routings, told to each of its active members, dated when
the dispatch was sent, all read a day later but the latest `--unread`. A generated ministry
without them measured the notifications page on an empty list. `chancery generate dispatches`
writes them after the dispatches (unless `--no-notifications`); this command adds them to a
ministry generated before. Deterministic (from the routings); a notification already there (same
agent, dispatch and event) is not written twice.
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.urls import reverse

PER_UNIT = 100
UNREAD = 10


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--per-unit", type=int, default=PER_UNIT,
                        help=f"latest routings of each unit told to its members (default {PER_UNIT})")
    parser.add_argument("--unread", type=int, default=UNREAD,
                        help=f"of which the latest are still unread (default {UNREAD})")


def write_routing_notifications(*, per_unit: int = PER_UNIT, unread: int = UNREAD) -> int:
    """Write the notifications of each unit's latest `per_unit` routings to its active members
    (one transaction); returns how many were written."""
    from chancery.accounts.models import Membership
    from chancery.correspondence.models import Routing, RoutingKind
    from chancery.notifications.models import Notification, Verb
    from chancery.organisation.models import Unit

    if per_unit < 0 or unread < 0:
        raise ValueError("per_unit and unread are counts")
    verbs = {RoutingKind.ACTION: Verb.DISPATCH_ATTRIBUTED.value, RoutingKind.INFO: Verb.DISPATCH_FOR_INFORMATION.value}
    target_type = "correspondence.dispatch"
    columns = ["recipient_id", "verb", "target_type", "target_id", "url", "created_at", "read_at"]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(Notification._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    stamp = connection.ops.adapt_datetimefield_value
    written = 0
    with transaction.atomic():
        for unit_id in Unit.objects.unrestricted("generator: every unit").order_by("pk").values_list("pk", flat=True):
            members = sorted(set(Membership.objects.filter(unit_id=unit_id).active().values_list("user_id", flat=True)))
            if not members or not per_unit:
                continue
            routings = list(
                Routing.objects.unrestricted("generator: a unit's latest routings")
                .filter(unit_id=unit_id, sent_at__isnull=False)
                .order_by("-sent_at", "-id")
                .values_list("dispatch_id", "kind", "sent_at")[:per_unit]
            )
            known = set(
                Notification.objects.unrestricted("generator: notifications already there")
                .filter(recipient_id__in=members, target_type=target_type,
                        target_id__in=[str(d) for d, _k, _at in routings])
                .values_list("recipient_id", "target_id", "verb")
            )  # fmt: skip
            rows = [
                (user_id, verbs[kind], target_type, str(dispatch_id),
                 reverse("correspondence:detail", args=[dispatch_id]), stamp(sent_at),
                 None if rank < unread else stamp(sent_at + timedelta(days=1)))
                for user_id in members
                for rank, (dispatch_id, kind, sent_at) in enumerate(routings)
                if (user_id, str(dispatch_id), verbs[kind]) not in known
            ]  # fmt: skip
            if rows:
                with connection.cursor() as cursor:
                    cursor.executemany(sql, rows)
            written += len(rows)
    return written


def _run(options: dict[str, Any], stdout: Any) -> None:
    from chancery.notifications.models import Notification

    written = write_routing_notifications(per_unit=int(options["per_unit"]), unread=int(options["unread"]))
    with connection.cursor() as cursor:  # the planner's statistics of the table just filled
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Notification._meta.db_table)}")
    stdout.write(f"{written} notifications written.")


GENERATORS = {
    "notifications": ("the notifications of each unit's latest routings, to its members", _add_arguments, _run),
}
