"""Signals for writes that bypass `save()`.

`bulk_written` is sent after a bulk write (`bulk_create`, a queryset `update`, a generator,
a restore) so that derived data — the search index — can catch up in the background.
Arguments: `model` (the model class written, or None when many were) and `ids` (the
primary keys written, or None when unknown: receivers then look for what is stale).
"""

from __future__ import annotations

from django.dispatch import Signal

bulk_written = Signal()
