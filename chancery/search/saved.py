"""Saved searches: keep a query under a name; optionally be told when new documents match.

The notification carries a link to the saved search only (never a title, a reference or a
word of the document), and is raised only when the new document is one its owner may read:
the match is computed through `selectors.matching`, i.e. through the gate, as the owner.
Each document is announced once per saved search (a draft that is later sent is announced
when it first matches for the owner, i.e. once the owner may read it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.accounts.models import User
from chancery.audit.services import record_event
from chancery.search.models import SavedSearch, SavedSearchMatch


@transaction.atomic
def save_search(*, owner: User, name: str, query: str, notify: bool = False) -> SavedSearch:
    name = (name or "").strip()
    query = (query or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Give the search a name.")]
    elif len(name) > 120:
        errors["name"] = [_("The name is too long.")]
    if not query:
        errors["query"] = [_("There is nothing to save: the search is empty.")]
    elif len(query) > 1000:
        errors["query"] = [_("The query is too long.")]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            saved = SavedSearch.objects.create(owner=owner, name=name, query=query, notify=notify)
    except IntegrityError as exc:
        raise ValidationError({"name": [_("You already have a saved search with this name.")]}) from exc
    record_event(action="search.saved", actor=owner, target=saved, details={"notify": notify})
    return saved


@transaction.atomic
def delete_saved_search(*, owner: User, saved: SavedSearch) -> None:
    if saved.owner_id != owner.pk:
        raise SavedSearch.DoesNotExist
    record_event(action="search.saved_deleted", actor=owner, target=saved, details={})
    saved.delete()


def record_protected_snippets(*, user: User, results: Any, request: Any = None) -> None:
    """Audit the protected content a results page showed (types and ids only, never text)."""
    shown = [f"{h.doc_type}:{h.object_id}" for h in results.hits if h.protected and str(h.snippet)]
    if shown:
        record_event(action="search.read", actor=user, details={"shown": shown}, request=request)


def notify_new_matches(document_ids: Sequence[int]) -> int:
    """After indexing: notify owners of saved searches that a new document they may read
    matches. Returns the number of notifications raised."""
    from chancery.notifications.models import Verb
    from chancery.notifications.services import notify
    from chancery.search.query import parse
    from chancery.search.selectors import matching

    raised = 0
    watching = (
        SavedSearch.objects.unrestricted("notification sweep over every agent's saved searches")
        .filter(notify=True, owner__is_active=True)
        .select_related("owner")
    )
    for saved in watching:
        query = parse(saved.query)
        if query.is_empty:
            continue
        qs, _clauses = matching(saved.owner, query)
        matched = set(qs.filter(pk__in=list(document_ids)).values_list("pk", flat=True))
        told = set(
            SavedSearchMatch.objects.filter(saved_search=saved, document_id__in=matched).values_list(
                "document_id", flat=True
            )
        )
        new = sorted(matched - told)
        if not new:
            continue
        SavedSearchMatch.objects.bulk_create(
            [SavedSearchMatch(saved_search=saved, document_id=pk) for pk in new], ignore_conflicts=True
        )
        notify(
            recipients=[saved.owner],
            verb=Verb.SAVED_SEARCH_MATCH,
            target=saved,
            url=reverse("search:saved_run", args=[saved.pk]),
        )
        SavedSearch.objects.unrestricted("bookkeeping").filter(pk=saved.pk).update(last_notified_at=timezone.now())
        raised += 1
    return raised
