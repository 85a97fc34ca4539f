"""Reads of notifications: always the signed-in agent's own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from chancery.core.db import CompiledStatements, Statement, count_statement, run_count
from chancery.core.gate import get_visible_or_404
from chancery.notifications.models import Notification, NotificationQuerySet

if TYPE_CHECKING:
    from chancery.accounts.models import User


def notifications_for(*, user: User, unread_only: bool = False) -> NotificationQuerySet:
    qs = Notification.objects.visible_to(user)
    return qs.unread() if unread_only else qs


@dataclass(frozen=True)
class About:
    """What a notification is about, as its reader may see it now (read through the gate when
    the list is shown, so nothing is stored with the notification and nothing outlives a change
    of the reader's rights): a reference, who sent it, and its subject or title."""

    reference: str
    sender: str
    subject: str


def with_details(*, user: User, notifications: Iterable[Notification]) -> list[Notification]:
    """The notifications as a list, each with `about` (an `About`, or None when its object is gone)."""
    from chancery.correspondence.models import Dispatch
    from chancery.correspondence.selectors import with_subjects
    from chancery.planning.models import Programme

    rows = list(notifications)
    ids: dict[str, set[int]] = {}
    for n in rows:
        if n.target_id.isdigit():
            ids.setdefault(n.target_type, set()).add(int(n.target_id))
    about: dict[tuple[str, str], About] = {}
    # Each kind's objects in one query (none when the page names none), through the gate; the
    # subjects with their keys and compartment codes read for the page at once (`with_subjects`).
    dispatch_ids = ids.get("correspondence.dispatch", set())
    dispatches = Dispatch.objects.visible_to(user).filter(pk__in=dispatch_ids) if dispatch_ids else None
    for d in with_subjects(dispatches.select_related("sending_unit", "data_key")) if dispatches is not None else []:
        sender = d.sending_unit.code if d.sending_unit_id else d.sender_name
        about["correspondence.dispatch", str(d.pk)] = About(
            reference=d.reference or _("draft"), sender=sender or "", subject=d.subject_text  # type: ignore[attr-defined]
        )
    programme_ids = ids.get("planning.programme", set())
    programmes = (
        list(Programme.objects.visible_to(user).filter(pk__in=programme_ids).select_related("mission", "data_key"))
        if programme_ids
        else []
    )
    for p in programmes:
        years = str(p.year) if not p.end_year or p.end_year == p.year else f"{p.year}–{p.end_year}"
        about["planning.programme", str(p.pk)] = About(
            reference=f"{p.mission.code} {years}", sender=p.mission.name, subject=p.title
        )
    for n in rows:
        n.about = about.get((n.target_type, n.target_id))  # type: ignore[attr-defined]
    return rows


# The unread count's statement, compiled once per reader and rights: every page asks for the count
# once loaded and each minute after, and building the dispatch and plan gates for it cost 3-8 ms of Python per
# ask at a million dispatches, whatever the count (its SQL runs in well under a millisecond).
_UNREAD_COUNTS: CompiledStatements[Statement] = CompiledStatements()


def unread_count(*, user: User) -> int:
    key = Notification.objects.gate_key(user)
    if key is None:
        return 0
    return run_count(_UNREAD_COUNTS.get(key, lambda: count_statement(notifications_for(user=user, unread_only=True))))


def notification_detail(*, user: User, pk: int) -> Notification:
    return get_visible_or_404(Notification.objects.all(), user, pk=pk)
