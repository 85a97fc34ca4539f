"""Dispatches: subject, body, sender, place and references; protected when encrypted at rest."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.urls import reverse

from chancery.correspondence import content
from chancery.correspondence.models import Dispatch
from chancery.imports.extraction.reading import html_to_text
from chancery.search.adapters.base import Adapter, Entry, Shown
from chancery.search.analysis import detect_language

if TYPE_CHECKING:
    from chancery.accounts.models import User


def dispatch_entry(dispatch: Dispatch, object_id: int) -> Entry:
    """Metadata shared by a dispatch and its attachments (gated by the dispatch)."""
    return Entry(
        object_id=object_id,
        dispatch_id=dispatch.pk,
        unit_id=dispatch.sending_unit_id,
        unit_code=dispatch.sending_unit.code,
        routed=[r.unit.code for r in dispatch.routings.all()],
        author_id=dispatch.author_id,
        reference=dispatch.reference or "",
        dated=dispatch.dated,
        classification=int(dispatch.classification),
        protected=dispatch.needs_encryption,
        tags=list(dispatch.tag_list),
    )


class DispatchAdapter(Adapter):
    doc_type = "dispatch"

    def _rows(self) -> Any:
        return (
            Dispatch.objects.unrestricted("search indexing reads every dispatch; results are gated")
            .select_related("sending_unit", "data_key")
            .prefetch_related("compartments", "routings__unit")
        )

    def entries(self, ids: Iterable[int]) -> list[Entry]:
        result = []
        for dispatch in self._rows().filter(pk__in=list(ids)):
            subject = content.read_field(dispatch, "subject")
            body = html_to_text(content.read_field(dispatch, "body"))
            entry = dispatch_entry(dispatch, dispatch.pk)
            entry.text = "\n".join(
                part
                for part in (
                    subject,
                    dispatch.sender_name,
                    dispatch.place_text,
                    dispatch.external_reference,
                    body,
                )
                if part
            )
            entry.language = detect_language(entry.text)
            result.append(entry)
        return result

    def visible(self, user: User, ids: Iterable[int]) -> dict[int, Any]:
        rows = (
            Dispatch.objects.visible_to(user)
            .filter(pk__in=list(ids))
            .select_related("sending_unit", "data_key")
            .prefetch_related("compartments")
        )
        return {d.pk: d for d in rows}

    def show(self, obj: Any, *, with_text: bool) -> Shown:
        subject = content.read_field(obj, "subject")
        return Shown(
            title=subject or str(obj),
            url=reverse("correspondence:detail", args=[obj.pk]),
            reference=obj.reference or "",
            subject=subject,
            text=html_to_text(content.read_field(obj, "body")) if with_text else "",
            unit=obj.sending_unit.code,
            dated=obj.dated,
            compartments=tuple(content.compartment_codes(obj)),
        )
