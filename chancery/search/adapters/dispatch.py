"""Dispatches: subject, body, sender, place and references; protected when encrypted at rest."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.urls import reverse

from chancery.correspondence import content
from chancery.correspondence.models import Dispatch, Routing, marking_text
from chancery.imports.extraction.reading import html_to_text
from chancery.search.adapters.base import Adapter, Entry, Shown
from chancery.search.analysis import detect_language

if TYPE_CHECKING:
    from chancery.accounts.models import User


def routed_codes(dispatch_ids: Iterable[int]) -> dict[int, list[str]]:
    """The codes of the units each dispatch is routed to: one query for a whole batch."""
    routed: dict[int, list[str]] = defaultdict(list)
    rows = (
        Routing.objects.unrestricted("search indexing reads the routing of every dispatch; results are gated")
        .filter(dispatch_id__in=list(dispatch_ids))
        .order_by("id")
        .values_list("dispatch_id", "unit__code")
    )
    for dispatch_id, code in rows:
        routed[dispatch_id].append(code)
    return routed


# What an entry reads (the other columns, timestamps above all, cost their conversion).
_INDEXED_FIELDS = (
    "classification",
    "transmission",
    "subject",
    "body",
    "subject_ciphertext",
    "body_ciphertext",
    "meta_ciphertext",
    "place",
    "tags",
    "sender_name",
    "external_reference",
    "reference",
    "dated",
    "author_id",
    "sending_unit__code",
    "data_key__wrapped_key",
    "data_key__kek_id",
)


def load_dispatches(ids: Iterable[int]) -> list[Dispatch]:
    """Dispatches to index, their data keys unwrapped in one go (each KEK read once) and
    their current marking text (bound to their ciphertexts) read in one query as
    `_index_marking`, their place and tags decrypted once as `_index_meta`: what a bulk
    reader needs, without one compartment read per field."""
    dispatches = list(
        Dispatch.objects.unrestricted("search indexing reads every dispatch; results are gated")
        .filter(pk__in=list(ids))
        .select_related("sending_unit", "data_key")
        .only(*_INDEXED_FIELDS)
    )
    codes: dict[int, list[str]] = defaultdict(list)
    through = Dispatch.compartments.through.objects.filter(dispatch_id__in=[d.pk for d in dispatches])
    for dispatch_id, code in through.values_list("dispatch_id", "compartment__code"):
        codes[dispatch_id].append(code)
    content.unlock_many(dispatches)
    for dispatch in dispatches:
        marking = marking_text(dispatch.classification, codes.get(dispatch.pk, []))
        key = content.plain_key(dispatch) if dispatch.meta_ciphertext is not None else None
        dispatch._index_marking = marking  # type: ignore[attr-defined]
        dispatch._index_meta = content.decrypt_meta(dispatch, key=key, marking=marking)  # type: ignore[attr-defined]
    return dispatches


# Sanitised bodies (nh3) hold no script or style: their words are the text between tags.
_TAG = re.compile(r"<[^>]*>")
_HIDDEN = re.compile(r"<\s*(script|style|head|title)\b", re.IGNORECASE)


def body_text(markup: str) -> str:
    """The words of a body for the index: tags dropped and entities decoded (a faster
    equivalent of `html_to_text` for sanitised markup, which it falls back to otherwise)."""
    if _HIDDEN.search(markup):
        return html_to_text(markup)
    return html.unescape(_TAG.sub(" ", markup))


def dispatch_entry(dispatch: Dispatch, object_id: int, routed: list[str]) -> Entry:
    """Metadata shared by a dispatch and its attachments (gated by the dispatch), for a
    dispatch loaded by `load_dispatches`."""
    return Entry(
        object_id=object_id,
        dispatch_id=dispatch.pk,
        unit_id=dispatch.sending_unit_id,
        unit_code=dispatch.sending_unit.code,
        routed=routed,
        author_id=dispatch.author_id,
        reference=dispatch.reference or "",
        dated=dispatch.dated,
        classification=int(dispatch.classification),
        protected=dispatch.needs_encryption,
        tags=list(dispatch._index_meta.tags),  # type: ignore[attr-defined]
    )


class DispatchAdapter(Adapter):
    doc_type = "dispatch"

    def _rows(self) -> Any:
        return Dispatch.objects.unrestricted("search indexing reads every dispatch; results are gated")

    def entries(self, ids: Iterable[int]) -> list[Entry]:
        result = []
        dispatches = load_dispatches(ids)
        routed = routed_codes(d.pk for d in dispatches)
        for dispatch in dispatches:
            marking = dispatch._index_marking  # type: ignore[attr-defined]
            subject = content.read_field(dispatch, "subject", marking=marking)
            body = body_text(content.read_field(dispatch, "body", marking=marking))
            entry = dispatch_entry(dispatch, dispatch.pk, routed.get(dispatch.pk, []))
            entry.text = "\n".join(
                part
                for part in (
                    subject,
                    dispatch.sender_name,
                    dispatch._index_meta.place,  # type: ignore[attr-defined]
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
        content.unlock_many(rows)  # each KEK read once for the page, not once per dispatch
        return {d.pk: d for d in rows}

    def show(self, obj: Any, *, with_text: bool) -> Shown:
        subject = content.read_field(obj, "subject")
        return Shown(
            title=subject or str(obj),
            url=reverse("correspondence:detail", args=[obj.pk]),
            reference=obj.reference or "",
            subject=subject,
            # The index's fast reading of sanitised markup (html.parser cost ms per body).
            text=body_text(content.read_field(obj, "body")) if with_text else "",
            unit=obj.sending_unit.code,
            dated=obj.dated,
            compartments=tuple(content.compartment_codes(obj)),
        )
