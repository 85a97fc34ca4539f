"""The rules behind every dashboard figure, written once as SQL conditions.

Dashboards, drill-down lists, exports and the synthesis all count with these conditions,
so a figure and the list of records behind it can never disagree.

- Action completion (cancelled actions left out): *done*; *late* (not finished and its
  target date — else its end date — is past); *in progress* (in progress or postponed, not
  late); *not started* (proposed or approved, not late).
- Indicator status: the share of the way from baseline to current target (revised, else
  approved) covered by the latest actual, against the share expected by now — all of it for
  a past year, the share of the year elapsed for the current year. *On track*: at least the
  expected share; *at risk*: at least 75 % of it; *off track*: less; *no data*: no actual or
  no target. A "decrease" indicator counts the way downwards.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Case, DecimalField, ExpressionWrapper, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.utils.translation import gettext_lazy as _

from chancery.planning.models import ActionStatus, Direction, Measurement

ACTION_BUCKETS: dict[str, Any] = {
    "done": _("Done"),
    "in_progress": _("In progress"),
    "late": _("Late"),
    "not_started": _("Not started"),
}
INDICATOR_STATUSES: dict[str, Any] = {
    "on_track": _("On track"),
    "at_risk": _("At risk"),
    "off_track": _("Off track"),
    "no_data": _("No data"),
}
AT_RISK_FACTOR = Decimal("0.75")

STATUS_RULE = _(
    "Status of an indicator: the share of the way from its baseline to its target (the revised "
    "target when there is one) covered by its latest actual value, compared with the share "
    "expected by now — all of it for a past year, the share of the year elapsed for the current "
    "year. On track: at least the expected share; at risk: at least three quarters of it; off track: less; "
    "no data: no actual value or no target."
)
COMPLETION_RULE = _(
    "Completion of actions (cancelled actions left out): done; late — not finished and the target "
    "date (else the end date) is past; in progress — in progress or postponed and not late; not "
    "started — proposed or approved and not late."
)


def late_q(today: date) -> Q:
    finished = Q(status__in=[ActionStatus.DONE, ActionStatus.CANCELLED])
    past = Q(target_date__lt=today) | Q(target_date__isnull=True, end_date__lt=today)
    return ~finished & past


def bucket_q(bucket: str, today: date) -> Q:
    """The condition on an Action row of one completion bucket."""
    late = late_q(today)
    if bucket == "done":
        return Q(status=ActionStatus.DONE)
    if bucket == "late":
        return late
    if bucket == "in_progress":
        return Q(status__in=[ActionStatus.IN_PROGRESS, ActionStatus.POSTPONED]) & ~late
    if bucket == "not_started":
        return Q(status__in=[ActionStatus.PROPOSED, ActionStatus.APPROVED]) & ~late
    raise ValueError(bucket)


def expected_share(year: int, today: date) -> Decimal:
    """The share of the way to its target an indicator should have covered by `today`."""
    if year < today.year:
        return Decimal(1)
    if year > today.year:
        return Decimal(0)
    days = (date(year, 12, 31) - date(year, 1, 1)).days + 1
    return (Decimal((today - date(year, 1, 1)).days + 1) / Decimal(days)).quantize(Decimal("0.0001"))


def _decimal(expression: Any) -> ExpressionWrapper:
    return ExpressionWrapper(expression, output_field=DecimalField(max_digits=30, decimal_places=8))


def with_status(indicators: Any, *, expected: Decimal) -> Any:
    """Annotate indicators (already read through the gate) with `actual` (latest value),
    `actual_measurement_id`, `target`, `base` and `status` (see the module's rule)."""
    latest = (
        Measurement.objects.unrestricted("latest value of an indicator read through the gate")
        .filter(indicator=OuterRef("pk"))
        .order_by("-period_end", "-pk")
    )
    share = Value(expected, output_field=DecimalField(max_digits=10, decimal_places=4))
    risk = Value(expected * AT_RISK_FACTOR, output_field=DecimalField(max_digits=10, decimal_places=4))
    qs = indicators.annotate(
        actual=Subquery(latest.values("value")[:1]),
        actual_measurement_id=Subquery(latest.values("pk")[:1]),
        target=Coalesce(F("revised_target"), F("approved_target")),
        base=Coalesce(
            F("baseline_value"), Value(Decimal(0), output_field=DecimalField(max_digits=18, decimal_places=4))
        ),
    )
    up_gain, up_need = _decimal(F("actual") - F("base")), _decimal(F("target") - F("base"))
    down_gain, down_need = _decimal(F("base") - F("actual")), _decimal(F("base") - F("target"))
    return qs.annotate(
        status=Case(
            When(Q(actual__isnull=True) | Q(target__isnull=True), then=Value("no_data")),
            When(
                Q(direction=Direction.DECREASE) & GreaterThanOrEqual(down_gain, _decimal(share * down_need)),
                then=Value("on_track"),
            ),
            When(
                Q(direction=Direction.DECREASE) & GreaterThanOrEqual(down_gain, _decimal(risk * down_need)),
                then=Value("at_risk"),
            ),
            When(direction=Direction.DECREASE, then=Value("off_track")),
            When(GreaterThanOrEqual(up_gain, _decimal(share * up_need)), then=Value("on_track")),
            When(GreaterThanOrEqual(up_gain, _decimal(risk * up_need)), then=Value("at_risk")),
            default=Value("off_track"),
        )
    )


def attainment(baseline: Decimal | None, target: Decimal | None, actual: Decimal | None) -> float | None:
    """Share of the way from baseline to target covered (for charts; 1.0 = target reached)."""
    if actual is None or target is None:
        return None
    base = baseline or Decimal(0)
    if target == base:
        return 1.0
    return float((actual - base) / (target - base))
