"""Signals for other apps (notifications): sent after the transaction commits.

- `dispatch_sent(sender=Dispatch, dispatch=..., actor=...)`: a dispatch was sent or an
  incoming one registered; its routings now show in the routed units' inboxes.
- `routing_assigned(sender=Routing, routing=..., actor=...)`: an attribution was
  assigned to an agent (`routing.assigned_to`).
- `routing_changed(sender=Routing, routing=..., actor=..., action=...)`: acknowledged,
  read, answered or closed (for inbox counters).

Receivers must not put protected content anywhere (e-mails carry a link only).
"""

from __future__ import annotations

from django.dispatch import Signal

dispatch_sent = Signal()
routing_assigned = Signal()
routing_changed = Signal()
