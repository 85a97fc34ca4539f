"""Reference numbers: per sending unit and year, gap-free and safe under concurrency.

The counter row of (unit, year) is locked (`SELECT ... FOR UPDATE` on PostgreSQL; on
SQLite the IMMEDIATE transaction mode already serialises writers) for the rest of the
caller's transaction, so two concurrent sends wait for each other and never share a
number; a rolled-back send gives its number back (no gap).
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from chancery.correspondence.models import NumberCounter
from chancery.organisation.models import Unit


def format_reference(*, unit_code: str, year: int, number: int) -> str:
    """The reference from `settings.CHANCERY_REFERENCE_TEMPLATE`, e.g. `LIMA/2014/0584`."""
    template = str(settings.CHANCERY_REFERENCE_TEMPLATE or "{unit}/{year}/{number:04d}")
    return template.format(unit=unit_code, year=year, number=number)


def _locked_counter(unit: Unit, year: int) -> NumberCounter:
    counters = NumberCounter.objects.select_for_update()
    counter = counters.filter(unit=unit, year=year).first()
    if counter is not None:
        return counter
    try:
        with transaction.atomic():
            return NumberCounter.objects.create(unit=unit, year=year, last_number=0)
    except IntegrityError:
        # Created meanwhile by a concurrent transaction (PostgreSQL): lock that one.
        return counters.get(unit=unit, year=year)


def allocate_number(*, unit: Unit, year: int) -> tuple[int, str]:
    """Next (number, reference) of `unit` in `year`. Must run inside the sending transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocate_number must run inside the transaction that uses the number")
    counter = _locked_counter(unit, year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number, format_reference(unit_code=unit.code, year=year, number=counter.last_number)


def last_number(*, unit: Unit, year: int) -> int:
    counter = NumberCounter.objects.filter(unit=unit, year=year).first()
    return counter.last_number if counter else 0
