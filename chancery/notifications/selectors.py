"""Reads of notifications: always the signed-in agent's own."""

from __future__ import annotations

from typing import Any

from chancery.core.gate import get_visible_or_404
from chancery.notifications.models import Notification, NotificationQuerySet


def notifications_for(*, user: Any, unread_only: bool = False) -> NotificationQuerySet:
    qs = Notification.objects.visible_to(user)
    return qs.unread() if unread_only else qs


def unread_count(*, user: Any) -> int:
    return Notification.objects.visible_to(user).unread().count()


def notification_detail(*, user: Any, pk: int) -> Notification:
    return get_visible_or_404(Notification.objects.all(), user, pk=pk)
