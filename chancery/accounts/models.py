"""Agents, their memberships in units, clearances, second factor and API tokens."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chancery.accounts.roles import ROLE_CAPABILITIES, Capability, Role
from chancery.core.classification import Level, Marking
from chancery.core.db import column, db_date, rows_by_key, rows_where, table
from chancery.core.gate import RestrictedQuerySet
from chancery.core.locking import version_field
from chancery.core.models import Compartment
from chancery.core.validators import reject_bidi_controls

if TYPE_CHECKING:
    from chancery.core.types import Viewer


class UserQuerySet(RestrictedQuerySet["User"]):
    def visible_to(self, user: Viewer | None) -> UserQuerySet:
        # The directory of agents is open to every signed-in, active agent.
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()._mark_gated()
        return self._mark_gated()


class ChanceryUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    def get_by_natural_key(self, username: str | None) -> User:
        # Authentication happens before anyone is signed in: it must see every account.
        return self.unrestricted("authentication").get(**{self.model.USERNAME_FIELD: username})


class User(AbstractUser):
    # Per-instance memo of the oversight subtree (chancery.correspondence.models), not a field.
    _corr_subtree_cache: dict[tuple[str, ...], list[int]]
    clearance_level = models.PositiveSmallIntegerField(
        _("clearance"), choices=Level.choices, default=Level.UNCLASSIFIED
    )
    clearance_compartments = models.ManyToManyField(
        Compartment, blank=True, related_name="cleared_users", verbose_name=_("compartments")
    )
    preferred_language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    # The TOTP secret is encrypted at rest under a data key of its own (wrapped by the
    # key-encryption key): a copy of the database alone cannot mint second-factor codes.
    totp_secret_ciphertext = models.BinaryField(blank=True, default=b"", editable=False)
    lock_version = version_field()
    totp_data_key = models.ForeignKey(
        "crypto.DataKey", on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    totp_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    totp_last_step = models.BigIntegerField(default=0, editable=False)  # refuses a replayed code

    objects = ChanceryUserManager()  # type: ignore[misc]

    class Meta:
        ordering = ["last_name", "first_name", "username"]
        verbose_name = _("agent")
        verbose_name_plural = _("agents")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def clean(self) -> None:
        super().clean()
        reject_bidi_controls(username=self.username, first_name=self.first_name, last_name=self.last_name,
                             email=self.email)

    @property
    def clearance(self) -> Marking:
        return self._clearance()[0]

    @property
    def clearance_compartment_ids(self) -> list[int]:
        """The ids of the compartments the agent is cleared for, sorted (what `clearance` names
        by code): the gates compare compartment rows by id, no subquery on codes to compile."""
        return self._clearance()[1]

    def _clearance(self) -> tuple[Marking, list[int]]:
        cached: tuple[Marking, list[int]] | None = getattr(self, "_clearance_cache", None)
        if cached is None:
            compartments = _clearance_compartments(self.pk) if self.pk else []
            cached = (
                Marking.of(self.clearance_level, [code for _pk, code in compartments]),
                sorted(pk for pk, _code in compartments),
            )
            self._clearance_cache = cached
        return cached

    @property
    def requires_totp(self) -> bool:
        return self.clearance_level >= settings.CHANCERY_TOTP_REQUIRED_LEVEL or self.totp_confirmed_at is not None

    @property
    def has_totp_secret(self) -> bool:
        return bool(self.totp_secret_ciphertext)

    @property
    def totp_enrolled(self) -> bool:
        return self.has_totp_secret and self.totp_confirmed_at is not None

    @property
    def totp_secret(self) -> str:
        """The clear TOTP secret ("" when none is set)."""
        if not self.totp_secret_ciphertext or self.totp_data_key is None:
            return ""
        from chancery.crypto import envelope
        from chancery.crypto.services import unwrap

        key = unwrap(data_key=self.totp_data_key)
        return envelope.decrypt(bytes(self.totp_secret_ciphertext), key, self._totp_aad()).decode()

    def set_totp_secret(self, secret: str) -> None:
        """Encrypt `secret` into this agent's row (the caller saves `TOTP_FIELDS`)."""
        from chancery.crypto import envelope
        from chancery.crypto.services import new_data_key, unwrap

        if not secret:
            self.totp_secret_ciphertext = b""
            return
        if self.totp_data_key is None:
            self.totp_data_key, key = new_data_key()
        else:
            key = unwrap(data_key=self.totp_data_key)
        self.totp_secret_ciphertext = envelope.encrypt(secret.encode(), key, self._totp_aad())

    def _totp_aad(self) -> bytes:
        from chancery.crypto import envelope

        return envelope.associated_data("user.totp_secret", self.pk, "")

    def active_memberships(self) -> list[Membership]:
        cached: list[Membership] | None = getattr(self, "_memberships_cache", None)
        if cached is None:
            cached = held_memberships(self)
            self._memberships_cache = cached
        return cached

    def units_with(self, capability: Capability) -> list[Any]:
        """Units in which this agent holds a role granting `capability`."""
        return [m.unit for m in self.active_memberships() if capability in ROLE_CAPABILITIES.get(m.role, ())]

    def has_capability(self, capability: Capability, unit: Any | None = None) -> bool:
        units = self.units_with(capability)
        if unit is None:
            return bool(units)
        return any(u.pk == unit.pk for u in units)

    def forget_cached_rights(self) -> None:
        # every per-instance cache the gate keeps on the agent (the oversight subtree too: a unit
        # moved under another region changes what a director oversees)
        for attr in ("_clearance_cache", "_memberships_cache", "_corr_subtree_cache"):
            if hasattr(self, attr):
                delattr(self, attr)


def _clearance_compartments(user_id: int) -> list[tuple[int, str]]:
    """(id, code) of the compartments `user_id` is cleared for (every page asks: a statement
    written once, see `chancery.core.db.rows_where`)."""
    from django.db import connection

    through = User.clearance_compartments.through
    sql = (
        f"SELECT c.{column(Compartment, 'id')}, c.{column(Compartment, 'code')} FROM {table(Compartment)} c"  # noqa: S608
        f" JOIN {table(through)} t ON t.{column(through, 'compartment')} = c.{column(Compartment, 'id')}"
        f" WHERE t.{column(through, 'user')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id])
        return [(int(pk), str(code)) for pk, code in cursor.fetchall()]


def held_memberships(agent: User) -> list[Membership]:
    """The agent's active memberships, then those of the agents absent today whose deputy they
    are, each of these carrying `delegated_from` (the absent agent): every page reads them (menus,
    the gate). A deputy holds, for the absence, the roles of the agents they stand in for (never
    beyond their own clearance: the gate checks it). Not transitive.

    The condition is `MembershipQuerySet.active` and `AbsenceQuerySet.on`, written once as SQL
    (`chancery.core.db.rows_where`; tested equal to them): built as a queryset on each request,
    it was a millisecond of every page."""
    if agent.pk is None:
        return []
    from chancery.organisation.models import Unit

    today = db_date(timezone.localdate())
    m, a = Membership, Absence
    deputising = (
        f"SELECT a.{column(a, 'user')} FROM {table(a)} a WHERE a.{column(a, 'deputy')} = %s"  # noqa: S608
        f" AND a.{column(a, 'start_date')} <= %s AND a.{column(a, 'end_date')} >= %s"
        f" AND a.{column(a, 'cancelled_at')} IS NULL"
    )
    rows = rows_where(
        m,
        f"(t.{column(m, 'user')} = %s OR t.{column(m, 'user')} IN ({deputising}))"
        f" AND (t.{column(m, 'end_date')} IS NULL OR t.{column(m, 'end_date')} > %s)"
        f" AND t.{column(m, 'start_date')} <= %s",
        [agent.pk, agent.pk, today, today, today, today],
    )
    units = rows_by_key(Unit, sorted({row.unit_id for row in rows}))
    absent = {row.user_id for row in rows} - {agent.pk}
    users = User.objects.unrestricted("the agents a deputy stands in for").in_bulk(absent) if absent else {}
    for row in rows:
        row.unit = units[row.unit_id]
        if row.user_id == agent.pk:
            row.user = agent
        else:
            row.delegated_from = row.user = users[row.user_id]
    # their own first, each kind in the units' order (tree path), then by membership
    return sorted(rows, key=lambda row: (row.user_id != agent.pk, row.unit.path, row.pk))


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> MembershipQuerySet:
        # `end_date` is the first day without the role: a membership ended today stops at once.
        today = timezone.localdate()
        return self.filter(models.Q(end_date__isnull=True) | models.Q(end_date__gt=today), start_date__lte=today)


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("agent"))
    unit = models.ForeignKey(
        "organisation.Unit", on_delete=models.PROTECT, related_name="memberships", verbose_name=_("unit")
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    start_date = models.DateField(_("start"), default=timezone.localdate)
    end_date = models.DateField(_("end"), null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["unit__path", "role"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], name="membership_unique_role"),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="membership_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} ({self.unit.code})"


class RecoveryCode(models.Model):
    """One-time second-factor recovery codes, stored hashed."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def hash_code(code: str) -> str:
        normalised = code.replace("-", "").replace(" ", "").lower()
        return hashlib.sha256(normalised.encode()).hexdigest()


class LoginThrottle(models.Model):
    """Failed sign-in counters per key (account+address, or address), for capped back-off."""

    key = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True)
    blocked_until = models.DateTimeField(null=True)


class ApiToken(models.Model):
    """An API token: only its SHA-256 is stored; the clear value is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, default="cli")
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class AbsenceQuerySet(models.QuerySet["Absence"]):
    def on(self, day: Any) -> AbsenceQuerySet:
        """Absences covering `day` (both dates included), not cancelled."""
        return self.filter(start_date__lte=day, end_date__gte=day, cancelled_at__isnull=True)


class Absence(models.Model):
    """An agent away from `start_date` to `end_date` (both included), with a deputy who
    receives their work and acts for them within the deputy's own clearance."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="absences", verbose_name=_("agent"))
    deputy = models.ForeignKey(User, on_delete=models.PROTECT, related_name="deputising", verbose_name=_("deputy"))
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = AbsenceQuerySet.as_manager()

    class Meta:
        ordering = ["start_date", "id"]
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        constraints = [
            models.CheckConstraint(condition=models.Q(end_date__gte=models.F("start_date")), name="absence_dates"),
            models.CheckConstraint(condition=~models.Q(deputy=models.F("user")), name="absence_not_self"),
        ]

    def __str__(self) -> str:
        return f"absence {self.pk} of user {self.user_id}"
