"""The search index: one `SearchDocument` per indexed object, its tags, the index key,
saved searches and the state of a `chancery reindex` run.

Design note — where the index lives. The index is in the main database, not in a file of
its own: a search then filters by the permission gate and by metadata in the same SQL
statement (no id lists shipped between two stores), index writes commit or roll back with
the transaction that changed the object, a backup of the database is a backup of the
index, and nothing else has to be managed under `CHANCERY_DATA_DIR`.
- SQLite: an FTS5 virtual table `search_fts(terms, words)` whose rowid is the document id.
- PostgreSQL: two `tsvector` columns on `search_searchdocument` with GIN indexes.
Both are created by migration 0001 for their vendor only (the ORM never declares them).

What the index reveals. For a document not protected at rest, its stems and folded words
(as the clear columns of the object do already). For a protected document (see
`protection`), only keyed hashes: no word is readable, but the number of words, the
repetition pattern of hashed terms (term frequencies) and its metadata (type, unit, date,
marking, tags, reference — all already stored in clear by their own apps) remain.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chancery.accounts.access import signed_in
from chancery.core.classification import Level
from chancery.core.gate import RestrictedQuerySet

if TYPE_CHECKING:
    from chancery.core.types import Viewer


class DocumentType(models.TextChoices):
    DISPATCH = "dispatch", _("Dispatch")
    ATTACHMENT = "attachment", _("Attachment")
    ACTION = "action", _("Action")
    ACHIEVEMENT = "achievement", _("Achievement")
    PROGRAMME = "programme", _("Programme")


# Document ids are recency keys: the object's date in the high bits, then its type and id.
# The engines store a term's matches in document-id order (FTS5's doclists, the primary key
# on PostgreSQL), and a search ranks the reader's newest matches by walking that order
# backwards (`selectors._window`): so "newest" must mean the most recent objects, whatever
# order they were indexed in (after a full reindex, attachments come after every dispatch).
# Deterministic and computed in Python, so parallel indexing processes never race for a
# sequence. A document whose date changes is renumbered (`indexing.move_documents`); one
# without a date keeps the day it was first indexed.
_TYPE_CODES = {"dispatch": 0, "attachment": 1, "action": 2, "achievement": 3, "programme": 4}
_OBJECT_BITS = 29  # objects of one type: up to 536 million
_TYPE_BITS = 3


def document_key(doc_type: str, object_id: int, dated: date | None, *, today: date | None = None) -> int:
    """The id of the document of this object: a key ordered by `dated` (a document without a
    date counts as of `today`, the day it is first indexed). Below 2**53 (exact
    in every JSON reader) for dates before the year 5741."""
    if not 0 < object_id < 1 << _OBJECT_BITS:
        raise ValueError(f"{doc_type} {object_id}: object id out of the index key's range")
    day = (dated or today or timezone.localdate()).toordinal()
    return (day << (_OBJECT_BITS + _TYPE_BITS)) | (_TYPE_CODES[doc_type] << _OBJECT_BITS) | object_id


def key_range(first: date | None, last: date | None) -> tuple[int | None, int | None]:
    """The document ids [low, high) of the documents dated from `first` to `last` (either
    open): a date filter the engine applies while it walks its matches. Undated documents
    in the range are still refused by the `dated` filter itself."""
    low = first.toordinal() << (_OBJECT_BITS + _TYPE_BITS) if first else None
    high = (last.toordinal() + 1) << (_OBJECT_BITS + _TYPE_BITS) if last else None
    return low, high


class SearchDocumentQuerySet(RestrictedQuerySet["SearchDocument"]):
    def visible_to(self, user: Viewer | None) -> SearchDocumentQuerySet:
        """Documents whose object `user` may read: each answers to its gating object's own
        `visible_to` (a dispatch for dispatches and their attachments, a programme for
        programmes, actions and achievements), so search never decides access itself."""
        from chancery.correspondence.models import Dispatch
        from chancery.planning.models import Programme

        user = signed_in(user)
        if user is None:
            return self.none()._mark_gated()
        # A correlated EXISTS through each gating object's own `visible_to` (the dispatch
        # gate is one indexed probe of the access index): a search evaluates it only for
        # the documents that match, in rank order, and stops at its cap (see
        # `selectors.gated_pass`), instead of first listing everything the reader may read
        # (`IN (visible ids)`: the whole scope of a director at each search).
        # Programmes are a few hundred: their gate is listed once per statement (an indexed
        # probe per candidate then), not re-evaluated (a join and path tests) per candidate.
        dispatches = Dispatch.objects.visible_to(user).filter(pk=OuterRef("dispatch_id"))
        programmes = Programme.objects.visible_to(user).values("pk")
        return self.filter(
            Q(Exists(dispatches), dispatch_id__isnull=False) | Q(programme_id__in=programmes)
        )._mark_gated()


class SearchDocument(models.Model):
    """What the index knows of one object. The analysed tokens live in the engine's
    structures (see the module note); the columns here are metadata already stored in
    clear by the owning app, never protected text."""

    id = models.BigAutoField(primary_key=True)  # `document_key`, never a sequence
    doc_type = models.CharField(max_length=12, choices=DocumentType.choices)
    object_id = models.PositiveBigIntegerField()
    # The object that decides who may read this one (exactly one is set).
    dispatch_id = models.PositiveBigIntegerField(null=True, blank=True)
    programme_id = models.PositiveBigIntegerField(null=True, blank=True)
    unit_id = models.PositiveBigIntegerField(null=True, blank=True)  # sender / mission
    unit_code = models.CharField(max_length=40, blank=True)
    routed_index = models.CharField(max_length=1000, blank=True, default="")  # "|SG/4|DAB/1|"
    tags_index = models.CharField(max_length=1000, blank=True, default="")  # "|TRADE|CULTURE|"
    author_id = models.PositiveBigIntegerField(null=True, blank=True)
    reference = models.CharField(max_length=200, blank=True)
    dated = models.DateField(null=True, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    classification = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.UNCLASSIFIED)
    language = models.CharField(max_length=5, blank=True)
    protected = models.BooleanField(default=False)
    indexed_at = models.DateTimeField(default=timezone.now)

    objects = SearchDocumentQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["doc_type", "object_id"], name="search_doc_unique_object")]
        indexes = [
            models.Index(fields=["dispatch_id"], name="search_doc_dispatch"),
            models.Index(fields=["programme_id"], name="search_doc_programme"),
            models.Index(fields=["-dated", "-id"], name="search_doc_dated"),
        ]

    def __str__(self) -> str:
        return f"{self.doc_type} {self.object_id}"


class IndexKey(models.Model):
    """The HMAC key of the protected-content index: a `crypto.DataKey`, wrapped like every
    other data key (so `chancery rotate-keys` re-wraps it). One row."""

    data_key = models.ForeignKey("crypto.DataKey", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="search_index_key_single")]

    def __str__(self) -> str:
        return "index key"


class ReindexState(models.Model):
    """Progress of `chancery reindex`, committed per batch so that a run can resume."""

    doc_type = models.CharField(max_length=12, choices=DocumentType.choices, unique=True)
    last_object_id = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"reindex {self.doc_type} at {self.last_object_id}"


class SavedSearchQuerySet(RestrictedQuerySet["SavedSearch"]):
    def visible_to(self, user: Viewer | None) -> SavedSearchQuerySet:
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()._mark_gated()
        return self.filter(owner_id=user.pk)._mark_gated()


class SavedSearch(models.Model):
    """A query an agent keeps; with `notify`, new matching documents (that the agent may
    read) raise a notification carrying only a link."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches")
    name = models.CharField(_("name"), max_length=120)
    query = models.CharField(_("query"), max_length=1000)
    notify = models.BooleanField(_("notify me of new matches"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_notified_at = models.DateTimeField(null=True, blank=True)

    objects = SavedSearchQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("saved search")
        verbose_name_plural = _("saved searches")
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="search_saved_unique_name")]

    def __str__(self) -> str:
        return self.name


class SavedSearchMatch(models.Model):
    """A document its owner was already told about for a saved search (one notice per document)."""

    saved_search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="matches")
    document_id = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["saved_search", "document_id"], name="search_saved_match_unique")
        ]

    def __str__(self) -> str:
        return f"match {self.saved_search_id}/{self.document_id}"
