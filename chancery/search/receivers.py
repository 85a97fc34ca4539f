"""Keep the index current: every saved or deleted dispatch, attachment, routing, programme,
action or achievement queues its (re)indexing once the transaction commits.

Bulk writes that bypass `save()` send `core.signals.bulk_written`: with the ids written,
they are queued as batches (`tasks.index_batch`); without, a `tasks.catch_up` task finds
what is stale (missing, or changed after it was indexed). `chancery reindex --stale` does
the same from the command line, and `chancery reindex` rebuilds everything.
Access never depends on the index being current: results are always
filtered through the owning models' gate at query time.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chancery.core.signals import bulk_written
from chancery.correspondence.models import Attachment, Dispatch, Routing
from chancery.planning.models import Achievement, Action, Programme


def queue(doc_type: str, object_id: int | None) -> None:
    if object_id is None:
        return

    def enqueue() -> None:
        from chancery.search.tasks import index_object

        index_object.enqueue(doc_type, int(object_id))

    transaction.on_commit(enqueue)


def queue_many(doc_type: str, object_ids: list[int]) -> None:
    """Queue the indexing of objects written in bulk, in batches, once the transaction commits."""
    from chancery.search.indexing import BATCH

    ids = sorted({int(i) for i in object_ids})

    def enqueue() -> None:
        from chancery.search.tasks import index_batch

        for start in range(0, len(ids), BATCH * 5):
            index_batch.enqueue(doc_type, ids[start : start + BATCH * 5])

    if ids:
        transaction.on_commit(enqueue)


def queue_catch_up() -> None:
    def enqueue() -> None:
        from chancery.search.tasks import catch_up

        catch_up.enqueue()

    transaction.on_commit(enqueue)


@receiver(bulk_written, dispatch_uid="search_bulk_written")
def _bulk_written(sender: Any, model: Any = None, ids: list[int] | None = None, **kwargs: Any) -> None:
    doc_type = _DELETED.get(model) if model is not None else None
    if doc_type is not None and ids is not None:
        queue_many(doc_type, ids)
        if model is Dispatch:
            queue_many("attachment", list(Attachment.objects.filter(dispatch_id__in=ids).values_list("pk", flat=True)))
    else:
        queue_catch_up()


@receiver(post_save, sender=Dispatch, dispatch_uid="search_dispatch_saved")
def _dispatch_saved(sender: Any, instance: Dispatch, **kwargs: Any) -> None:
    queue("dispatch", instance.pk)
    if not kwargs.get("created"):
        # A change of marking re-encrypts the attachments: their tokens change form too.
        for attachment_id in Attachment.objects.of_dispatch(instance).values_list("pk", flat=True):
            queue("attachment", attachment_id)


@receiver(post_save, sender=Routing, dispatch_uid="search_routing_saved")
def _routing_saved(sender: Any, instance: Routing, **kwargs: Any) -> None:
    if kwargs.get("created"):
        queue("dispatch", instance.dispatch_id)


@receiver(post_save, sender=Attachment, dispatch_uid="search_attachment_saved")
def _attachment_saved(sender: Any, instance: Attachment, **kwargs: Any) -> None:
    queue("attachment", instance.pk)


@receiver(post_save, sender=Programme, dispatch_uid="search_programme_saved")
def _programme_saved(sender: Any, instance: Programme, **kwargs: Any) -> None:
    queue("programme", instance.pk)
    if not kwargs.get("created"):
        # The programme's marking decides whether its actions' words are hashed.
        reason = "search: re-index the children of a changed programme"
        for pk in Action.objects.unrestricted(reason).filter(programme_id=instance.pk).values_list("pk", flat=True):
            queue("action", pk)
        for pk in (
            Achievement.objects.unrestricted(reason).filter(programme_id=instance.pk).values_list("pk", flat=True)
        ):
            queue("achievement", pk)


@receiver(post_save, sender=Action, dispatch_uid="search_action_saved")
def _action_saved(sender: Any, instance: Action, **kwargs: Any) -> None:
    queue("action", instance.pk)


@receiver(post_save, sender=Achievement, dispatch_uid="search_achievement_saved")
def _achievement_saved(sender: Any, instance: Achievement, **kwargs: Any) -> None:
    queue("achievement", instance.pk)


_DELETED = {
    Dispatch: "dispatch",
    Attachment: "attachment",
    Programme: "programme",
    Action: "action",
    Achievement: "achievement",
}


def _deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    queue(_DELETED[sender], instance.pk)


for _model in _DELETED:
    post_delete.connect(_deleted, sender=_model, dispatch_uid=f"search_{_model.__name__}_deleted")
