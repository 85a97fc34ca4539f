"""Creating notifications and sending their e-mail.

`notify` writes one row per recipient in the caller's transaction; once that transaction
commits, each recipient gets an e-mail through Django's e-mail API carrying ONLY a neutral
line and a link back into the application. Subjects, bodies and references of dispatches
never leave the application this way: reading them needs a signed-in, cleared session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chancery.accounts.models import Membership, User
from chancery.accounts.roles import ROLE_CAPABILITIES, Capability
from chancery.core.gate import read_through_gate
from chancery.notifications.models import Notification, Verb

logger = logging.getLogger(__name__)


def _check_url(url: str) -> str:
    # A path inside the application: the e-mail link is the base URL + this path, and the
    # "open" view redirects to it, so it must not point elsewhere.
    if not url.startswith("/") or url.startswith("//") or "\\" in url or any(c in url for c in "\r\n"):
        raise ValueError("a notification's url must be a path inside the application")
    return url


def notify(
    *,
    recipients: Iterable[User | int],
    verb: str,
    target: models.Model | None,
    url: str,
    actor: User | None = None,
) -> list[Notification]:
    """Notify each recipient once (the acting agent excepted); e-mails go out after commit."""
    verb = Verb(verb).value
    url = _check_url(url)
    ids = {r if isinstance(r, int) else r.pk for r in recipients}
    if actor is not None:
        ids.discard(actor.pk)
    if not ids:
        return []
    users = list(
        User.objects.unrestricted("notification recipients").filter(pk__in=ids, is_active=True).order_by("pk")
    )
    if target is not None and verb != Verb.DELEGATION_BLOCKED:
        from chancery.accounts.absences import route_to_deputies

        users = route_to_deputies(users, target=target, url=url, actor=actor)
    target_type = target._meta.label_lower if target is not None else ""
    target_id = str(target.pk) if target is not None else ""
    created = Notification.objects.bulk_create(
        [
            Notification(recipient=u, verb=verb, target_type=target_type, target_id=target_id, url=url)
            for u in users
        ]
    )
    mail_to = [(u.email, u.preferred_language) for u in users if u.email]
    if mail_to:
        transaction.on_commit(lambda: send_notification_emails(verb=verb, url=url, recipients=mail_to))
    return created


def email_text(*, verb: str, url: str, language: str | None) -> tuple[str, str]:
    """The e-mail's subject and body: a neutral line and the link, nothing else."""
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = _("Chancery: you have a new notification")
        line = str(Verb(verb).label)
        body = "\n".join(
            [
                line,
                "",
                _("Open it in Chancery (you will be asked to sign in):"),
                f"{settings.CHANCERY_BASE_URL}{url}",
                "",
                _("This message carries no content on purpose: read it in the application."),
            ]
        )
    return subject, body


def send_notification_emails(*, verb: str, url: str, recipients: list[tuple[str, str]]) -> int:
    """One message per recipient (nobody sees who else was told). Failures are logged, not raised:
    the notification is already recorded in the application."""
    messages = []
    for address, language in recipients:
        subject, body = email_text(verb=verb, url=url, language=language)
        messages.append(EmailMessage(subject=subject, body=body, to=[address]))
    try:
        with get_connection() as connection:
            return int(connection.send_messages(messages) or 0)
    except Exception:  # the SMTP server may be down: the in-app notification stands
        logger.exception("notification e-mail failed (verb=%s, recipients=%d)", verb, len(messages))
        return 0


def _memberships(units: Iterable[Any], capability: Capability | None) -> Any:
    unit_ids = [u if isinstance(u, int) else u.pk for u in units]
    memberships = Membership.objects.filter(unit_id__in=unit_ids).active()
    if capability is not None:
        memberships = memberships.filter(role__in=[r for r, caps in ROLE_CAPABILITIES.items() if capability in caps])
    return memberships


def unit_members_with(*, units: Iterable[Any], capability: Capability | None) -> list[User]:
    """Active agents holding `capability` in one of `units` (e.g. who handles an attribution);
    `None`: every active agent of the units."""
    user_ids = _memberships(units, capability).values_list("user_id", flat=True)
    return list(User.objects.unrestricted("notification recipients").filter(pk__in=user_ids, is_active=True))


def memberships_of(users: Iterable[User], units: Iterable[Any]) -> list[Membership]:
    """The active memberships of `users` in `units`."""
    return list(_memberships(units, None).filter(user__in=[u.pk for u in users]))


def mark_read(*, user: User, notification: Notification) -> Notification:
    if notification.recipient_id != user.pk:
        raise PermissionError("not the recipient")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.unrestricted("own notification, checked above").filter(
            pk=notification.pk, read_at__isnull=True
        ).update(read_at=notification.read_at)
    return notification


def mark_target_read(*, user: User, target: models.Model) -> int:
    """The agent opened `target`: their notifications about it are read.

    When `target` was read through its gate for this agent in this request
    (`read_through_gate`), their own notifications about it are theirs to see: the
    notification gate's probe of every gated target kind (two gates to build and compile, the
    costliest query of a dispatch's page) would only say so again. Any other target goes
    through the notification gate."""
    mine = (
        Notification.objects.unrestricted("the agent's own notifications about a target read through its gate")
        .filter(recipient_id=user.pk)
        if read_through_gate(target, user)
        else Notification.objects.visible_to(user)
    )
    unread = mine.unread().filter(target_type=target._meta.label_lower, target_id=str(target.pk))
    # Most pages opened have nothing to mark: a read then, not a write (on SQLite an UPDATE,
    # even of no row, waits for the write lock behind every other writer).
    if not unread.exists():
        return 0
    return unread.update(read_at=timezone.now())


def mark_all_read(*, user: User) -> int:
    return Notification.objects.visible_to(user).unread().update(read_at=timezone.now())
