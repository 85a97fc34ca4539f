"""Correspondence reads. Every function takes the reading `user` and reads through the
permission gate (`Dispatch.objects.visible_to(user)`); nothing here returns a dispatch,
a routing, an attachment or a count the user may not see.

Clear subjects and bodies are read with `dispatch_subject(d)` / `dispatch_body(d)` (they
decrypt protected dispatches on the fly); never log what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.lookups import Exact, In
from django.http import Http404
from django.utils import timezone

from chancery.accounts.roles import Capability
from chancery.core import keyset
from chancery.core.classification import Level
from chancery.core.db import CompiledStatements, Unindexed, count_statement, run_count
from chancery.core.db import Statement as DbStatement
from chancery.core.gate import get_visible_by_id_or_404, get_visible_or_404, read_through_gate
from chancery.core.keyset import (
    CappedCountsStatement,
    CappedInt,
    Counted,
    ListedByKeys,
    capped_counts_statement,
    ordering,
    run_capped_counts,
)
from chancery.core.lists import first
from chancery.core.models import Compartment, preload_compartment_codes
from chancery.core.statements import GatedStatement, Statement, prefetched, rights_key
from chancery.correspondence import content, policy, substring_index
from chancery.correspondence.models import (
    RELEASED_STATUSES,
    Attachment,
    Citation,
    Direction,
    Dispatch,
    DispatchQuerySet,
    DispatchStatus,
    MarkingChange,
    Routing,
    RoutingKind,
    RoutingStatus,
    among_ids_q,
    clearance_q,
    gate_scope,
    narrow_limit,
    routing_clearance_q,
    rows_are_few,
)
from chancery.crypto.models import DataKey
from chancery.organisation.models import Unit

if TYPE_CHECKING:
    from chancery.accounts.models import User

UNSENT_STATUSES = (DispatchStatus.DRAFT, DispatchStatus.VALIDATED, DispatchStatus.SUBMITTED)
# Orders of the paged lists ([(field, descending)], ending with a unique field): keyset pages.
# The inbox: open routings first, by due date (information copies have none), newest first. Its
# keys are stored on the routing and indexed per unit (see `Routing.open_rank`): overdue
# attributions come first without a key of their own, being the open ones due earliest.
INBOX_ORDER = [("open_rank", True), ("due_key", False), ("sent_at", True), ("id", True)]
OUTBOX_ORDER = [("sent_at", True), ("id", True)]
DRAFTS_ORDER = [("updated_at", True), ("id", True)]
SEARCH_ORDER = [("dated", True), ("id", True)]
THREAD_MAX_DEPTH = 10
THREAD_MAX_NODES = 200


# --- content -----------------------------------------------------------------------------


def dispatch_subject(dispatch: Dispatch) -> str:
    """The clear subject (decrypted if protected). Only for a dispatch read through the gate."""
    return content.read_field(dispatch, "subject")


def dispatch_body(dispatch: Dispatch) -> str:
    """The clear, sanitised HTML body (decrypted if protected)."""
    return content.read_field(dispatch, "body")


def without_compartments_known(routings: Iterable[Routing]) -> None:
    """Mark the dispatches of `routings` whose routing's copy of their marking says they have no
    compartment (`dispatch_has_compartments`, kept by the database's triggers and read by the
    gate) as having none: `with_subjects` then reads codes for the others only, and an inbox page
    of dispatches without compartments makes no query for them."""
    for routing in routings:
        if not routing.dispatch_has_compartments:
            routing.dispatch.__dict__.setdefault("_compartment_codes", [])


def with_subjects(dispatches: Iterable[Dispatch]) -> list[Dispatch]:
    """The dispatches as a list, each with `subject_text` set and its compartment codes
    preloaded (for list templates and their page marking)."""
    result = list(dispatches)
    preload_compartment_codes(result)
    for dispatch in result:
        dispatch.subject_text = dispatch_subject(dispatch)  # type: ignore[attr-defined]
    return result


def is_protected(dispatch: Dispatch) -> bool:
    return dispatch.needs_encryption


# --- lists -------------------------------------------------------------------------------


def _as_list(dispatches: DispatchQuerySet) -> DispatchQuerySet:
    """`dispatches` with what a list shows joined (their compartment codes: `with_subjects`,
    one flat query for the page rather than the related manager's prefetch)."""
    return dispatches.select_related("sending_unit", "author", "data_key")


def visible_dispatches(user: User | None) -> DispatchQuerySet:
    """Every dispatch the user may read (the gate), with what lists show preloaded."""
    return _as_list(Dispatch.objects.visible_to(user))


def _my_unit_ids(user: User, unit: Unit | int | str | None) -> list[int]:
    ids = sorted({m.unit_id for m in user.active_memberships()})
    if unit is None or unit == "":
        return ids
    if isinstance(unit, Unit):
        wanted = unit.pk
    elif isinstance(unit, int) or str(unit).isdigit():
        wanted = int(unit)
    else:
        match = next((m.unit for m in user.active_memberships() if m.unit.code == str(unit).upper()), None)
        wanted = match.pk if match else -1
    return [wanted] if wanted in ids else []


def _overdue(today: date) -> Q:
    """Open attributions whose due date has passed (on the inbox's stored keys: `due_key` is
    an attribution's due date, and no information copy's, so the index range serves it)."""
    return Q(open_rank=1, kind=RoutingKind.ACTION, due_key__lt=today)


def _routed_to_me(user: User, unit: Unit | int | str | None = None) -> QuerySet[Routing]:
    """Routings to the user's units (or to `unit`, one of them) of released dispatches whose
    marking the user's clearance dominates: the gate's routed-unit branch, on the routings'
    copies of their dispatch's marking and release (`routing_clearance_q`)."""
    unit_ids = _my_unit_ids(user, unit)
    if not unit_ids or not user.is_active:
        return Routing.objects.unrestricted("inbox of an agent without a unit: no row").none()
    return Routing.objects.unrestricted(
        "inbox: the gate's routed-unit branch written out for speed (clearance and release on the routing's copies)"
    ).filter(
        routing_clearance_q(user),
        Q(unit_id=unit_ids[0]) if len(unit_ids) == 1 else Q(unit_id__in=unit_ids),
    )


def inbox(
    user: User, unit: Unit | int | str | None = None, status: str | None = None, overdue_only: bool = False
) -> QuerySet[Routing]:
    """Routings (attribution and information) of sent dispatches to the user's units
    (or to one of them, `unit`), open ones first, earliest due date first (so overdue
    attributions lead), then newest first (`INBOX_ORDER`).

    `status`: a routing status, or `open` (attributions not answered/closed, unread
    copies). Each routing has `dispatch` (+ sending unit) preloaded and an `overdue` flag.
    Equivalent to the gate: a member of a routed unit reads a sent dispatch whenever
    their clearance dominates its marking (tested against `visible_to`).

    One unit's rows are read in the order of its index (`corr_routing_inbox`): a page costs
    its rows whatever the unit's volume. (With several units the engine still sorts their rows.)
    """
    today = timezone.localdate()
    # The rows also check the dispatch itself (the copies' source): a belt to the braces that
    # costs the rows shown only, since the copies filter first.
    qs = inbox_counted(user, unit, status, overdue_only).filter(
        clearance_q(user, "dispatch__"), dispatch__status__in=RELEASED_STATUSES
    )
    return (
        qs.annotate(overdue=Case(When(_overdue(today), then=Value(1)), default=Value(0), output_field=IntegerField()))
        .select_related("dispatch", "dispatch__sending_unit", "dispatch__data_key", "unit", "assigned_to")
        .only(*INBOX_ROW_FIELDS)
        .order_by(*ordering(INBOX_ORDER))
    )


def inbox_counted(
    user: User, unit: Unit | int | str | None = None, status: str | None = None, overdue_only: bool = False
) -> QuerySet[Routing]:
    """The rows of `inbox` as its count reads them: on the routings' copies of their dispatch's
    marking and release alone, as the inbox counters do (`inbox_counts`), without the second
    check of the dispatch row that the rows shown make. Checking a thousand dispatch rows was
    most of a desk officer's API inbox on PostgreSQL at 1M (12 of 36 ms; the copies: 0.5 ms).
    Tested equal to `inbox` for every filter."""
    qs = _routed_to_me(user, unit)
    if status == "open":
        qs = qs.filter(open_rank=1)  # = OPEN_ROUTINGS (the table's check constraint)
    elif status:
        qs = qs.filter(status=status)
    if overdue_only:
        qs = qs.filter(_overdue(timezone.localdate()))
    return qs


# What a row of the home page's correspondence panel shows, and its keyset keys: reference, sender,
# routing, due date. Without the subject's data key and the assignee, its five rows join two
# relations fewer, which PostgreSQL plans for on every home page (the inbox rows' planning took
# longer than their run).
HOME_ROW_FIELDS = (
    *(name for name, _newest_first in INBOX_ORDER),
    "dispatch",
    "unit",
    "kind",
    "status",
    "due_date",
    "unit__code",
    "dispatch__reference",
    "dispatch__sending_unit",
    "dispatch__sending_unit__code",
)

# What an inbox page's row shows besides: building the routing, dispatch, units and assignee of
# 50 rows with every column was a third of a desk officer's inbox (a dispatch has some forty
# columns). The API's rows: `inbox_api_rows`.
INBOX_ROW_FIELDS = (
    *HOME_ROW_FIELDS,
    "assigned_to",
    "dispatch_has_compartments",
    "assigned_to__username",
    "assigned_to__first_name",
    "assigned_to__last_name",
    *(
        f"dispatch__{name}"
        for name in (
            "dated",
            "sender_name",
            "classification",
            "subject",  # a clear dispatch's subject, or an encrypted one's ciphertext and data key:
            "subject_ciphertext",
            "data_key",
        )
    ),
    *(f"dispatch__data_key__{field.name}" for field in DataKey._meta.concrete_fields),
)


# What a row of the API's lists shows of a dispatch (`api.DispatchOut`): not its body, signature
# or bookkeeping columns. With all forty columns of the dispatch and of its routing, author and
# units, building the 100 rows of a desk officer's API inbox took half of the request.
DISPATCH_API_ROW_FIELDS = (
    "reference",
    "direction",
    "kind",
    "status",
    "classification",
    "transmission",
    "subject",  # a clear dispatch's subject, or an encrypted one's ciphertext and data key:
    "subject_ciphertext",
    "place",  # its place and tags in clear, or their ciphertext (`content.read_meta`)
    "tags",
    "meta_ciphertext",
    "sending_unit",
    "author",
    "dated",
    "sent_at",
    "in_reply_to",
    "external_reference",
    "sender_name",
    "data_key",
    *(f"data_key__{field.name}" for field in DataKey._meta.concrete_fields),
)
ROUTING_API_ROW_FIELDS = (  # `api.RoutingOut`, and the inbox's keyset keys
    *(name for name, _newest_first in INBOX_ORDER),
    "dispatch",
    "unit",
    "kind",
    "status",
    "due_date",
    "acknowledged_at",
    "assigned_to",
    "answer",
    "closed_at",
    "read_at",
    "unit__code",
    "assigned_to__username",
)


def dispatch_api_rows(queryset: DispatchQuerySet) -> DispatchQuerySet:
    """`queryset` loading what a row of the API's dispatch list shows (`DISPATCH_API_ROW_FIELDS`;
    the sending unit's code, the author's name and the compartment codes: `prepare_dispatch_api_rows`,
    for the rows of the page only)."""
    return queryset.only(*DISPATCH_API_ROW_FIELDS).prefetch_related(None)


def prepare_dispatch_api_rows(dispatches: list[Dispatch]) -> None:
    """What the rows of a page of the API's dispatch list show besides their own columns, each kind
    in one query: the sending units' codes, the authors' names (the directory is open to agents,
    and the rows were read through the gate), the compartment codes. Django's prefetch of the two
    foreign keys wrote each as a tuple lookup (`(id) IN ((%s), …)`), built value by value: a tenth
    of the list's time at a million dispatches."""
    from chancery.accounts.models import User

    for relation, model, column in (
        (Dispatch._meta.get_field("sending_unit"), Unit, "code"),
        (Dispatch._meta.get_field("author"), User, "username"),
    ):
        ids = {getattr(d, relation.attname) for d in dispatches} - {None}
        related = model._base_manager.only(column).in_bulk(ids) if ids else {}
        for dispatch in dispatches:
            relation.set_cached_value(dispatch, related.get(getattr(dispatch, relation.attname)))
    preload_compartment_codes(dispatches)


def inbox_api_rows(queryset: QuerySet[Routing]) -> QuerySet[Routing]:
    """Inbox rows (`inbox`) loading what a row of the API's inbox shows: the routing
    (`ROUTING_API_ROW_FIELDS`) and its dispatch (`DISPATCH_API_ROW_FIELDS`, the author's name;
    compartment codes: `preload_compartment_codes`)."""
    return queryset.select_related("dispatch__author").only(
        *ROUTING_API_ROW_FIELDS,
        *(f"dispatch__{name}" for name in DISPATCH_API_ROW_FIELDS),
        "dispatch__sending_unit__code",
        "dispatch__author__username",
    )


def outbox(user: User, unit: Unit | int | str | None = None, status: str | None = None) -> DispatchQuerySet:
    """Sent (and closed) dispatches of the user's units, newest first."""
    qs = _as_list(Dispatch.objects.sent_by_units_of(user, _my_unit_ids(user, unit)))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by(*ordering(OUTBOX_ORDER))


def drafts(user: User, unit: Unit | int | str | None = None) -> DispatchQuerySet:
    """Drafts and validated (not yet sent) dispatches of the user's units, latest first."""
    unit_ids = _my_unit_ids(user, unit)
    return (
        visible_dispatches(user)
        .filter(sending_unit_id__in=unit_ids, status__in=UNSENT_STATUSES)
        .order_by(*ordering(DRAFTS_ORDER))
    )


def inbox_counts(user: User, *, with_open: bool = False) -> dict[str, CappedInt]:
    """For the inbox counter: `unacknowledged` attributions, `overdue` attributions,
    `unread` copies, and `total` = unacknowledged + unread; `with_open`: also `open` (what the
    inbox lists by default: attributions not answered or closed, unread copies). Through the
    gate (the inbox's rows), each counted up to `keyset.COUNT_CAP` (`CappedInt.more` beyond) on
    the unit's indexes, whatever the unit's volume: all in one statement."""
    if not getattr(user, "is_authenticated", False):
        zero = CappedInt(0)
        return {"unacknowledged": zero, "overdue": zero, "unread": zero, "total": zero} | (
            {"open": zero} if with_open else {}
        )
    key = rights_key(user, (Dispatch,))
    result = run_capped_counts(
        _INBOX_COUNTS.get(
            key and (key, with_open, keyset.COUNT_CAP),
            lambda: capped_counts_statement(_inbox_counters(user, with_open=with_open)),
        )
    )
    result["total"] = result["unacknowledged"] + result["unread"]
    return result


# The inbox's counters, compiled once per reader and rights (`rights_key`, as `GatedStatement`):
# the home page and the inbox ask them on every view.
_INBOX_COUNTS: CompiledStatements[CappedCountsStatement] = CompiledStatements()


def _inbox_counters(user: User, *, with_open: bool) -> dict[str, QuerySet[Routing]]:
    rows = _routed_to_me(user)
    counters = {
        "unacknowledged": rows.filter(kind=RoutingKind.ACTION, status=RoutingStatus.PENDING),
        "overdue": rows.filter(_overdue(timezone.localdate())),
        "unread": rows.filter(kind=RoutingKind.INFO, status=RoutingStatus.UNREAD),
    }
    if with_open:
        counters["open"] = rows.filter(open_rank=1)
    return counters


@dataclass(frozen=True)
class SearchFilters:
    """Filters of `search_dispatches`; each empty value means "any"."""

    direction: str = ""
    unit: str = ""  # unit code: sending unit or routed to it
    status: str = ""
    classification: str = ""  # level key (`restricted`) or number
    date_from: date | None = None
    date_to: date | None = None
    tag: str = ""
    q: str = ""  # reference, sender's reference, sender, or clear (unprotected) subject

    @property
    def narrows(self) -> bool:
        """Whether any filter narrows the list (as `search_dispatches` applies them)."""
        texts = (self.direction, self.unit, self.status, self.classification.strip(), self.tag, self.q.strip())
        return any(texts) or self.date_from is not None or self.date_to is not None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SearchFilters:
        def as_date(value: Any) -> date | None:
            if value in (None, ""):
                return None
            if isinstance(value, date):
                return value
            try:
                return date.fromisoformat(str(value))
            except ValueError:
                return None

        return cls(
            direction=str(data.get("direction") or ""),
            unit=str(data.get("unit") or ""),
            status=str(data.get("status") or ""),
            classification=str(data.get("classification") if data.get("classification") is not None else ""),
            date_from=as_date(data.get("date_from")),
            date_to=as_date(data.get("date_to")),
            tag=str(data.get("tag") or ""),
            q=str(data.get("q") or "")[:200],
        )


def _level(value: str) -> int | None:
    if value == "":
        return None
    if value.isdigit():
        return int(value) if int(value) in Level.values else -1
    try:
        return int(Level.from_key(value))
    except ValueError:
        return -1


def _unit_q(code: str, *, start_here: bool, walk: bool = False) -> Q:
    """Dispatches sent by the unit `code` or routed to it. Semi-joins rather than a join: no
    DISTINCT over whole rows. The unit is named by id on both sides of the OR, so that each side
    walks its own index (dispatches sent by the unit, its routings) instead of the engine filtering
    the whole table row by row: at 100k dispatches the list of one mission went from 2.6 s to 30 ms
    (its capped count) and 215 to 55 ms (a page). A unit with few dispatches (`narrow_limit`) is
    where the list starts (`among_ids_q`): PostgreSQL otherwise walked all dispatches by date to
    find a mission's few that a desk officer of another region may read (none: 2.2 s at 1M).
    Not when the list `start_here` is told not to (it starts from somewhere narrower). A unit with
    many, spelt to `walk` the list's order (SQLite: `Unindexed`), is tested row by row as the
    list walks its dates: SQLite otherwise started from the unit's 85,000 rows and sorted the
    reader's among them (a page for a desk officer at 1M: 150 -> 19 ms); its count is better
    started from them (`dispatch_api_list`)."""
    unit, sent_by, routed = _unit_rows(code)
    if start_here and _unit_is_few(code):
        return among_ids_q([sent_by.values("pk"), routed.values("dispatch_id")])
    if walk and start_here:
        return Q(In(Unindexed(F("sending_unit_id")), unit)) | Q(In(Unindexed(F("pk")), routed.values("dispatch_id")))
    return Q(sending_unit_id__in=unit) | Q(pk__in=routed.values("dispatch_id"))


def _unit_rows(code: str) -> tuple[QuerySet[Any], QuerySet[Any], QuerySet[Any]]:
    """The unit `code` (its key), the dispatches it sent and its routings: candidates, the gate decides."""
    unit = Unit.objects.filter(code=code).values("pk")
    sent_by = Dispatch.objects.unrestricted("the unit filter's candidates: the gate decides")
    routed = Routing.objects.unrestricted("the unit filter's candidates: the gate decides")
    return unit, sent_by.filter(sending_unit_id__in=unit), routed.filter(unit_id__in=unit)


def _unit_is_few(code: str) -> bool:
    """Whether the unit `code` sent and was routed few dispatches (`narrow_limit`; decided once a minute)."""
    _unit, sent_by, routed = _unit_rows(code)
    limit = narrow_limit()
    return rows_are_few(("unit", code, limit), {"sent": sent_by.values("pk"), "routed": routed.values("pk")}, limit)


def search_dispatches(
    user: User,
    filters: SearchFilters | Mapping[str, Any] | None = None,
    *,
    reads: int | None = None,
    walk_units: bool = False,
) -> DispatchQuerySet:
    """Visible dispatches matching the filters (direction, unit, status, classification,
    date range on the letter date, tag, q), newest first. Unknown values match nothing.
    `reads`: how many rows the caller reads, when it reads that few and no count (a picker):
    how the list is best read depends on it (`_words_filter`). `walk_units`: a unit with many
    dispatches spelt for a page walking the list's order rather than for a count (`_unit_q`)."""
    f = filters if isinstance(filters, SearchFilters) else SearchFilters.from_mapping(filters or {})
    # The sending unit and the author come in their own queries, not joined: with those inner
    # joins SQLite started from the units table and sorted the reader's whole scope (1.5 s for a
    # desk officer at 100k dispatches) instead of walking the date index (9 ms). Compartment
    # codes are the caller's to read for the rows it shows (`preload_compartment_codes`: one
    # flat query; the related manager's prefetch cost a quarter of the API's list at 1M).
    # A narrow reader's list starts from their access rows (`from_access_rows`).
    qs = (
        Dispatch.objects.visible_to(user, from_access_rows=True)
        .select_related("data_key")
        .prefetch_related("sending_unit", "author")
    )
    if f.direction:
        qs = qs.filter(direction=f.direction)
    if f.status:
        qs = qs.filter(Exact(Unindexed(F("status")), f.status))
    level = _level(f.classification.strip().lower())
    if level is not None:
        # Above the reader's clearance nothing can match: said here, not found by walking every
        # dispatch (PostgreSQL did not see the two conditions exclude each other: 0.6 s at 1M).
        qs = qs.filter(classification=level) if level <= int(user.clearance.level) else qs.none()
    if f.unit:
        # a narrow reader's list already starts from their few access rows
        qs = qs.filter(_unit_q(f.unit.strip().upper(), start_here=not qs._bounded_scope, walk=walk_units))
    if f.date_from:
        qs = qs.filter(dated__gte=f.date_from)
    if f.date_to:
        qs = qs.filter(dated__lte=f.date_to)
    if f.tag:
        clear, token = content.tag_patterns(f.tag)
        qs = qs.filter(Q(tag_index__contains=clear) | Q(tag_index__contains=token))
    if f.q.strip():
        qs = qs.filter(_words_filter(user, f.q.strip(), start_here=not qs._bounded_scope, reads=reads))
    return qs.order_by(*ordering(SEARCH_ORDER))


def _words_filter(user: User, text: str, *, start_here: bool, reads: int | None) -> Q:
    """`substring_index.words_filter_q`: a wide reader's list walking its date order tested each
    dispatch's columns and, for a word in none, read the reader's whole scope (2.1-2.8 s at 1M).
    A few candidates (`narrow_limit`) are where the list starts, unless it is told not to
    `start_here` (it starts from somewhere narrower: the reader's own rows); on SQLite up to
    `WALK_FACTOR` times more are tested as the list walks. A caller that `reads` a few rows and
    no count starts from fewer: the walk finds its few sooner than the gate reads thousands (the
    reference picker's ten for a 2 % word at 1M: 9 ms walked, 74-140 ms started from its 21,000
    candidates)."""
    limit = narrow_limit()
    few = None if not start_here else limit if reads is None else min(limit, FEW_PER_ROW_READ * reads)
    return substring_index.words_filter_q(text, few=few, many=WALK_FACTOR * limit, scope=lambda: gate_scope(user))


# Above `narrow_limit` × this many candidates, reading them costs more than the walk they spare
# (SQLite at 1M: 1,000,000 rowids read into a set in 90 ms; 41,000 in 10 ms).
WALK_FACTOR = 10
# Candidates a list that reads `reads` rows and no count may start from, per row it reads.
FEW_PER_ROW_READ = 100


def dispatch_api_list(user: User, filters: Mapping[str, Any]) -> DispatchQuerySet | ListedByKeys | Counted:
    """The API's dispatch list (`search_dispatches`, loading `dispatch_api_rows`). Unfiltered, or
    filtered by letter dates alone, the reader's list: its pages and count read from their access
    rows (`access_list`: a range of each walk's index for the dates), its rows through the gate.
    (Dates walked on the dispatch table: a desk officer's ten days at 1M took 110-150 ms.)"""
    from chancery.correspondence.access_list import listed_by_access_rows

    f = SearchFilters.from_mapping(filters)

    def as_queryset() -> DispatchQuerySet:
        return dispatch_api_rows(search_dispatches(user, f))

    if f.unit.strip() and connection.vendor == "sqlite":
        # A unit with many dispatches: the page walks the dates, the count starts from the unit's
        # rows (`_unit_q`): the same rows. (Otherwise one spelling: the gate's queryset is built once.)
        walked = search_dispatches(user, f, walk_units=True)
        if walked._bounded_scope or _unit_is_few(f.unit.strip().upper()):
            return dispatch_api_rows(walked)
        return Counted(rows=dispatch_api_rows(walked), counted=as_queryset())
    dates = (f.date_from, f.date_to)
    if replace(f, date_from=None, date_to=None).narrows:
        return as_queryset()
    rows = Dispatch.objects.visible_to(user).select_related("data_key")
    if f.date_from is not None:
        rows = rows.filter(dated__gte=f.date_from)
    if f.date_to is not None:
        rows = rows.filter(dated__lte=f.date_to)
    return listed_by_access_rows(user, dispatch_api_rows(rows), SEARCH_ORDER, as_queryset, dates) or as_queryset()


# --- one dispatch ------------------------------------------------------------------------


_PART_OF_A_DISPATCH_READ = "the parts of a dispatch read through the gate"
# A dispatch's parts as the detail page shows them (`prefetched` into the dispatch).
_DETAIL_PARTS: dict[str, Statement[Any]] = {
    "compartments": Statement(
        lambda dispatch: Compartment.objects.filter(
            pk__in=Dispatch.compartments.through.objects.filter(dispatch_id=dispatch).values("compartment_id")
        )
    ),
    "routings": Statement(
        lambda dispatch: Routing.objects.unrestricted(_PART_OF_A_DISPATCH_READ)
        .filter(dispatch_id=dispatch).select_related("unit", "assigned_to", "acknowledged_by")
    ),
    "attachments": Statement(
        lambda dispatch: Attachment.objects.unrestricted(_PART_OF_A_DISPATCH_READ)
        .filter(dispatch_id=dispatch).order_by("position")
    ),
    "citations": Statement(
        lambda dispatch: Citation.objects.unrestricted(_PART_OF_A_DISPATCH_READ)
        .filter(citing_id=dispatch).select_related("cited")
    ),
    "marking_changes": Statement(
        lambda dispatch: MarkingChange.objects.unrestricted(_PART_OF_A_DISPATCH_READ).filter(dispatch_id=dispatch)
    ),
}


# What the page and the API's detail show: the dispatch replied to and the signing key are shown by
# id (a writer or a signature check reading them reads them then). Joined, the one row cost
# PostgreSQL more to plan than to read, and built a second whole dispatch. Kept compiled per reader
# and rights: the dispatch gate's SQL took longer to build than to run.
_DISPATCH_DETAIL = GatedStatement(
    lambda user, pk: Dispatch.objects.select_related("sending_unit", "author", "data_key", "validated_by", "sent_by")
    .visible_to(user).filter(pk=pk),
    Dispatch,
)


def dispatch_detail(user: User, pk: int | str, *, request: Any = None, audit: bool = True) -> Dispatch:
    """One visible dispatch (404 otherwise) with routings, attachments, citations and
    compartments preloaded. Reading a protected one is audited (ids only)."""
    dispatch: Dispatch = get_visible_by_id_or_404(_DISPATCH_DETAIL, user, pk)
    # Its parts, each read by a statement compiled once: through `prefetch_related` the five cost
    # 5.3 ms of the page on PostgreSQL at 1M (compiling, and Django's prefetch machinery).
    for name, statement in _DETAIL_PARTS.items():
        prefetched(dispatch, name, statement(dispatch=dispatch.pk))
    if audit and dispatch.needs_encryption:
        from chancery.correspondence.services import record_read

        record_read(actor=user, dispatch=dispatch, what="detail", request=request)
    return dispatch


def attachment_content(
    user: User, dispatch_pk: int | str, position: int, *, request: Any = None
) -> tuple[Attachment, bytes]:
    """(attachment, plain bytes) of *PJ* `position` of a visible dispatch (404 otherwise).
    The download of a protected dispatch's attachment is audited."""
    dispatch = get_visible_or_404(
        Dispatch.objects.select_related("data_key").prefetch_related("compartments"), user, pk=dispatch_pk
    )
    attachment = Attachment.objects.of_dispatch(dispatch).filter(position=position).first()
    if attachment is None:
        raise Http404("no such attachment")
    attachment.dispatch = dispatch  # its file name is read with this dispatch's key and marking
    data = content.read_attachment(attachment, dispatch)
    if dispatch.needs_encryption or attachment.encrypted:
        from chancery.correspondence.services import record_read

        record_read(actor=user, dispatch=dispatch, what="attachment", position=position, request=request)
    return attachment, data


def my_routings(user: User, dispatch: Dispatch) -> list[Routing]:
    """The dispatch's routings to the user's own units (what they can act on)."""
    mine = {m.unit_id for m in user.active_memberships()}
    return [r for r in dispatch.routings.all() if r.unit_id in mine]


def visible_citations(
    user: User | None, dispatch: Dispatch, *, known: Mapping[int, Dispatch] | None = None
) -> list[Citation]:
    """The dispatch's *Réf*: external references, and cited dispatches the user can see
    (a cited dispatch out of scope is left out, not shown as a hidden entry).

    `known`: dispatches already read through the gate for this `user` (the thread's), not read
    again; the citations themselves come from the dispatch's prefetch when it has one."""
    citations = sorted(dispatch.citations.all(), key=lambda c: c.pk)
    cited_ids = [c.cited_id for c in citations if c.cited_id]
    visible = {pk: known[pk] for pk in cited_ids if known and pk in known}
    unknown = [pk for pk in cited_ids if pk not in visible]
    if unknown:
        visible.update({d.pk: d for d in visible_dispatches(user).filter(pk__in=unknown)})
    result = []
    for citation in citations:
        if citation.cited_id is None:
            result.append(citation)
        elif citation.cited_id in visible:
            citation.cited = visible[citation.cited_id]
            result.append(citation)
    return result


@dataclass
class ThreadEntry:
    dispatch: Dispatch
    depth: int  # 1 = cited by / citing the dispatch itself
    via: int | None  # pk of the entry it hangs from (None: the dispatch itself)


@dataclass
class Thread:
    root: Dispatch
    cites: list[ThreadEntry] = field(default_factory=list)  # what it cites, recursively
    cited_by: list[ThreadEntry] = field(default_factory=list)  # what cites it, recursively
    external_references: list[str] = field(default_factory=list)


# Citations the thread's edge query reads at most (both directions): past it, the thread is
# walked level by level through the gate instead (exact, one query per level).
THREAD_MAX_EDGES = 2_000

# (citation id, the dispatch an entry hangs from, the entry): one link of a thread's walk.
Edge = tuple[int, int, int]
# `levels(frontier, seen)`: a level of a thread's walk (see `_walk`).
Levels = Callable[[list[int], set[int]], Iterable[tuple[Dispatch, int]]]


def _citation_edges(root_pk: int) -> tuple[list[Edge], list[Edge]] | None:
    """The citations within THREAD_MAX_DEPTH links of `root_pk`, what it cites (forward) and
    what cites it (backward), as edges, in one recursive query; None past THREAD_MAX_EDGES.

    Ids only, read without the gate: `thread` keeps those its gated read of the dispatches
    returns (`_known_levels`), and nothing of a dispatch outside it is used."""
    from django.db import connection

    table = connection.ops.quote_name(Citation._meta.db_table)
    # UNION (not UNION ALL) keeps one row per (link, depth): a cycle or a diamond of citations
    # adds at most one row per link and level.
    sql = f"""
        WITH RECURSIVE forward_links(cid, parent, child, depth) AS (
            SELECT id, citing_id, cited_id, 1 FROM {table} WHERE citing_id = %s AND cited_id IS NOT NULL
            UNION
            SELECT c.id, c.citing_id, c.cited_id, f.depth + 1 FROM {table} c
            JOIN forward_links f ON c.citing_id = f.child WHERE f.depth < %s AND c.cited_id IS NOT NULL
        ), backward_links(cid, parent, child, depth) AS (
            SELECT id, cited_id, citing_id, 1 FROM {table} WHERE cited_id = %s
            UNION
            SELECT c.id, c.cited_id, c.citing_id, b.depth + 1 FROM {table} c
            JOIN backward_links b ON c.cited_id = b.child WHERE b.depth < %s
        )
        SELECT DISTINCT 1, cid, parent, child FROM forward_links
        UNION ALL
        SELECT DISTINCT 0, cid, parent, child FROM backward_links
        LIMIT %s"""  # noqa: S608 - the table's quoted name; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [root_pk, THREAD_MAX_DEPTH, root_pk, THREAD_MAX_DEPTH, THREAD_MAX_EDGES + 1])
        rows = cursor.fetchall()
    if len(rows) > THREAD_MAX_EDGES:
        return None
    forward = [(cid, parent, child) for is_forward, cid, parent, child in rows if is_forward]
    backward = [(cid, parent, child) for is_forward, cid, parent, child in rows if not is_forward]
    return forward, backward


def _walk(root: Dispatch, levels: Levels) -> list[ThreadEntry]:
    """Breadth first from `root`: `levels(frontier, seen)` gives the next level's readable
    dispatches, each with the frontier dispatch it hangs from, in (dispatch, citation) order.
    The walk stops at anything else."""
    entries: list[ThreadEntry] = []
    seen = {root.pk}
    frontier = [root.pk]
    depth = 0
    while frontier and depth < THREAD_MAX_DEPTH and len(entries) < THREAD_MAX_NODES:
        depth += 1
        next_frontier = []
        for child, via in levels(frontier, seen):
            if child.pk in seen:  # cited by two dispatches of the frontier: hangs from the first
                continue
            seen.add(child.pk)
            entries.append(ThreadEntry(dispatch=child, depth=depth, via=None if via == root.pk else via))
            next_frontier.append(child.pk)
            if len(entries) >= THREAD_MAX_NODES:
                break
        frontier = next_frontier
    return entries


def _gated_levels(user: User, forward: bool) -> Levels:
    """One query per level: the dispatches the frontier cites (or that cite it) that the user
    may read. (Compartments: read once for the whole thread by `with_subjects`.)"""
    link = "incoming_citations" if forward else "citations"
    parent = f"{link}__citing_id" if forward else f"{link}__cited_id"

    def levels(frontier: list[int], seen: set[int]) -> Iterable[tuple[Dispatch, int]]:
        level = (
            Dispatch.objects.visible_to(user)
            .filter(**{f"{parent}__in": frontier})
            .exclude(pk__in=seen)
            .annotate(thread_parent=F(parent))
            .select_related("data_key")
            .order_by("pk", f"{link}__id")
        )
        return ((child, child.thread_parent) for child in level)  # type: ignore[attr-defined]

    return levels


def _known_levels(edges: list[Edge], readable: Mapping[int, Dispatch]) -> Levels:
    """The same levels as `_gated_levels`, from the thread's edges and its dispatches already
    read through the gate: no query."""

    def levels(frontier: list[int], seen: set[int]) -> Iterable[tuple[Dispatch, int]]:
        near = set(frontier)
        links = sorted(
            (child, cid, parent)
            for cid, parent, child in edges
            if parent in near and child in readable and child not in seen
        )
        return ((readable[child], parent) for child, _cid, parent in links)

    return levels


# A thread's dispatches the reader may read, by their ids. Its `IN` list changes with the thread, so
# compiled each time it cost a dispatch page 1.5 ms on PostgreSQL at 1M: for up to THREAD_KEPT ids
# the list is a kept statement's values (the unused ones 0, which no dispatch has).
THREAD_KEPT = 32


def _readable(user: User, ids: Iterable[int]) -> DispatchQuerySet:
    return Dispatch.objects.visible_to(user).filter(pk__in=list(ids)).select_related("data_key")


_READABLE_AMONG = GatedStatement(lambda user, **ids: _readable(user, ids.values()), Dispatch)


def _readable_among(user: User, ids: set[int]) -> dict[int, Dispatch]:
    if len(ids) > THREAD_KEPT:
        queryset = _readable(user, ids)
    else:
        padded = sorted(ids) + [0] * (THREAD_KEPT - len(ids))
        queryset = _READABLE_AMONG(user, **{f"id{i:02d}": pk for i, pk in enumerate(padded)})
    return {d.pk: d for d in queryset}


def thread(user: User, dispatch: Dispatch) -> Thread:
    """What `dispatch` cites and what cites it, recursively (breadth first, bounded),
    keeping only the dispatches the user may read: the walk does not go through a
    dispatch out of their scope, so nothing beyond it shows either.

    Two queries whatever the thread's depth: its citations' ids (`_citation_edges`), then its
    dispatches the user may read, through the gate; a thread too large for that is walked one
    gated query per level."""
    if not read_through_gate(dispatch, user):
        get_visible_or_404(Dispatch.objects.all(), user, pk=dispatch.pk)
    external = [content.read_citation(c, dispatch) for c in dispatch.citations.all() if c.cited_id is None]
    edges = _citation_edges(dispatch.pk)
    if edges is None:
        forward_levels, backward_levels = _gated_levels(user, forward=True), _gated_levels(user, forward=False)
    else:
        forward, backward = edges
        ids = {child for _cid, _parent, child in forward + backward} - {dispatch.pk}
        readable = _readable_among(user, ids) if ids else {}
        forward_levels, backward_levels = _known_levels(forward, readable), _known_levels(backward, readable)
    return Thread(
        root=dispatch,
        cites=_walk(dispatch, forward_levels),
        cited_by=_walk(dispatch, backward_levels),
        external_references=external,
    )


# --- what the user may do ----------------------------------------------------------------


def allowed_actions(user: User, dispatch: Dispatch) -> dict[str, Any]:
    """Which lifecycle acts the user may take on a visible dispatch (for buttons): the
    correspondence policy's answer, given the user's routings of it."""
    sent = dispatch.status in RELEASED_STATUSES
    return policy.allowed_actions(user, dispatch, my_routings(user, dispatch) if sent else [])


def drafting_units(user: User) -> list[Unit]:
    """Units the user may write dispatches for."""
    return list(user.units_with(Capability.DRAFT_DISPATCH))


def registry_units(user: User) -> list[Unit]:
    """Units in which the user registers incoming correspondence."""
    return list(user.units_with(Capability.REGISTER_INCOMING))


def unit_members(user: User, unit: Unit) -> QuerySet[Any]:
    """Active agents of `unit` (for the assign picker); the directory is open to agents."""
    from chancery.accounts.models import Membership, User

    ids = Membership.objects.active().filter(unit=unit).values("user_id")
    return User.objects.visible_to(user).filter(pk__in=ids, is_active=True).order_by("last_name", "first_name")


# --- home page ---------------------------------------------------------------------------


# The home panel's reads, compiled once per reader and rights (`GatedStatement`, `rights_key`).
# Its rows show no subject (none is decrypted) nor assignee: they join neither; one row past the
# five shown (`first` tells from it whether there are more).
_HOME_INBOX = GatedStatement(
    lambda user: inbox(user, status="open")
    .select_related(None)
    .select_related("dispatch__sending_unit", "unit")
    .only(*HOME_ROW_FIELDS)[:6],
    Dispatch,
)
_HOME_DRAFTS: CompiledStatements[DbStatement] = CompiledStatements()


def home_panel(*, user: User | AnonymousUser) -> dict[str, Any] | None:
    """The correspondence panel of the home page (template written by the UI side)."""
    if isinstance(user, AnonymousUser) or not user.active_memberships():
        return None
    drafts_count = run_count(_HOME_DRAFTS.get(rights_key(user, (Dispatch,)), lambda: count_statement(drafts(user))))
    return {
        "template": "correspondence/_home_panel.html",
        "counts": inbox_counts(user),
        "inbox": first(list(_HOME_INBOX(user)), 5),
        "drafts_count": drafts_count,
        "can_draft": bool(drafting_units(user)),
        "can_register": bool(registry_units(user)),
        "direction_choices": Direction.choices,
    }
