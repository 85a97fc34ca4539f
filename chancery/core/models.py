"""Base models shared by the domain apps."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import gettext_lazy as _

from chancery.core.classification import Level, Marking


class ChoiceLabels(models.Model):
    """`get_<field>_display()` that translates only the label it returns.

    Django's own builds a dict of every choice on each call, and hashing a lazy label
    translates it: with two or three choice fields per row, a 50-row list made a thousand
    translations, more than its queries cost. Here the value -> label map is built once per
    field (labels kept lazy, so each call still answers in the active language)."""

    class Meta:
        abstract = True

    def _get_FIELD_display(self, field: Any) -> Any:  # overrides Django's (same name)
        labels: dict[Any, Any] | None = field.__dict__.get("_chancery_labels")
        if labels is None:
            labels = {make_hashable(value): label for value, label in field.flatchoices}
            field.__dict__["_chancery_labels"] = labels
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class Compartment(models.Model):
    """A caveat restricting a marking to those cleared for it (e.g. `NATO`, `CRYPTO`)."""

    code = models.CharField(
        _("code"),
        max_length=32,
        unique=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9_-]{0,31}$", _("Use capital letters, digits, - or _."))],
    )
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["code"]
        verbose_name = _("compartment")
        verbose_name_plural = _("compartments")

    def __str__(self) -> str:
        return self.code


class MarkedModel(ChoiceLabels):
    """An object carrying a classification marking (level + compartments)."""

    classification = models.PositiveSmallIntegerField(
        _("classification"), choices=Level.choices, default=Level.UNCLASSIFIED
    )
    compartments = models.ManyToManyField(Compartment, blank=True, verbose_name=_("compartments"), related_name="+")

    class Meta:
        abstract = True

    @property
    def marking(self) -> Marking:
        return Marking.of(self.classification, self.compartment_codes())

    def compartment_codes(self) -> list[str]:
        """The compartment codes, sorted: those `preload_compartment_codes` put on the instance
        when a list loaded it, else read (through a prefetch when there is one)."""
        preloaded: list[str] | None = self.__dict__.get("_compartment_codes")
        if preloaded is not None:
            return preloaded
        if not self.pk:
            return []
        if "compartments" in getattr(self, "_prefetched_objects_cache", {}):
            return sorted(c.code for c in self.compartments.all())
        return sorted(_codes_of(type(self))(owner=self.pk))  # as Python sorts them (not the collation)


@functools.cache
def _codes_of(model: type[MarkedModel]) -> Any:
    """The statement reading the compartment codes of a `model` row, in no order (compiled once:
    every page showing a marking reads them)."""
    from chancery.core.statements import Statement

    field: Any = model._meta.get_field("compartments")
    through, owner_column = field.remote_field.through, f"{field.m2m_field_name()}_id"
    return Statement(
        lambda owner: through.objects.filter(**{owner_column: owner}).values_list("compartment__code", flat=True)
    )


class ProbedExists(models.Exists):
    """`EXISTS`, which PostgreSQL runs as written: once per outer row that reaches it, by the
    correlated index (`OFFSET 0` keeps the planner from rewriting it, see below).

    For an agent cleared for compartments, "a compartment row of this object not among the
    cleared ones" is estimated at one row in the whole table (every row's compartment is among
    the few there are). PostgreSQL then rewrote the `EXISTS` as a hashed subplan or an anti-join
    over the whole compartment table, read at every execution: at 1M dispatches (10,000
    compartment rows) a security officer's inbox rows took 2.0 ms instead of 0.1, each of its
    counts 1.0 ms, and the cost grows with the compartmented dispatches of the whole ministry.
    A subquery with an `OFFSET` is neither pulled up into a join nor hashed (PostgreSQL's
    `simplify_EXISTS_query`); `OFFSET 0` changes no result."""

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = self.as_sql(compiler, connection, **extra)
        if sql.startswith("EXISTS(") and sql.endswith(" LIMIT 1)"):  # else an empty set's `false`
            sql = f"{sql[:-1]} OFFSET 0)"
        return sql, params


def uncleared_compartment_exists(rows: models.QuerySet[Any], user: Any, *, probed: bool = False) -> models.Exists:
    """SQL: among `rows` (a marked object's compartment rows, correlated to the outer object) one
    the user is not cleared for. By id, not by a subquery on codes: every gated query compiles
    this (0.4 ms each); and for the many agents cleared for no compartment, any row is one too many.
    "Not among the cleared ones" rather than "among the lacking ones": the same rows, but SQL
    reads the object's few compartment rows once instead of probing once per lacking compartment.

    `probed`: for a model whose compartment rows grow with the ministry (dispatches) and whose
    lists stop after a page or a capped count, a `ProbedExists`. Not for programmes: a
    programme list reads every visible programme, and its few compartment rows are best hashed
    once (probed, a security officer's programme list took 12.2 ms instead of 8.5)."""
    cleared = user.clearance_compartment_ids
    if not cleared:
        return models.Exists(rows)
    return (ProbedExists if probed else models.Exists)(rows.exclude(compartment_id__in=cleared))


def preload_compartment_codes(objects: Iterable[MarkedModel]) -> None:
    """Read the compartment codes of a list's objects (of one model) in one query.

    What `prefetch_related("compartments")` does for `compartment_codes`, without its related
    manager and queryset per object: for the 50 rows of a page that was 2.6 ms of a 25 ms inbox.
    The codes are a snapshot of the list's read: for objects that are only shown."""
    pending = []
    for o in objects:
        if o.pk is None or "_compartment_codes" in o.__dict__:
            continue
        prefetched = getattr(o, "_prefetched_objects_cache", {}).get("compartments")
        if prefetched is not None:  # loaded with `prefetch_related("compartments")` already
            o.__dict__["_compartment_codes"] = sorted(c.code for c in prefetched)
        else:
            pending.append(o)
    if not pending:
        return
    field = type(pending[0])._meta.get_field("compartments")
    assert isinstance(field, models.ManyToManyField)
    through = field.remote_field.through
    assert through is not None
    owner = field.m2m_field_name()
    codes: dict[int, list[str]] = {o.pk: [] for o in pending}
    rows = through._default_manager.filter(**{f"{owner}_id__in": list(codes)}).values_list(
        f"{owner}_id", "compartment__code"
    )
    for pk, code in rows:
        codes[pk].append(code)
    for o in pending:
        o.__dict__["_compartment_codes"] = sorted(codes[o.pk])
