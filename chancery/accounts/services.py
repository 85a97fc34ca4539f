"""Accounts: sign-in throttling, second factor, agents, memberships, clearances, API tokens.

Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, timedelta
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.accounts.models import ApiToken, LoginThrottle, Membership, RecoveryCode, User
from chancery.accounts.roles import Role
from chancery.audit.services import record_event
from chancery.core.classification import Level
from chancery.core.db import column, rows_by_key, rows_where
from chancery.core.locking import claim_version
from chancery.core.models import Compartment
from chancery.organisation.models import Unit

RECOVERY_CODE_COUNT = 10
TOTP_ISSUER = "Chancery"


# --- Sign-in throttling -------------------------------------------------------------

def _throttle_keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    """(key, failures allowed before back-off): the account from this address; the account from
    anywhere (guessing one password from many addresses); the address (spraying many names).

    The last two allow more: an office behind one address, or an agent who mistyped elsewhere,
    must not be slowed by a stranger's handful of failures.
    """
    name = username.strip().lower()
    free = settings.CHANCERY_LOGIN_FREE_ATTEMPTS
    return [
        (hashlib.sha256(f"acct:{name}:{ip or '-'}".encode()).hexdigest(), free),
        (hashlib.sha256(f"account:{name}".encode()).hexdigest(), free * 4),
        (hashlib.sha256(f"addr:{ip or '-'}".encode()).hexdigest(), free * 4),
    ]


def login_delay_seconds(*, username: str, ip: str | None) -> int:
    """Seconds before the next attempt is accepted for this account and address (0 = now)."""
    now = timezone.now()
    waits = [
        int((row.blocked_until - now).total_seconds()) + 1
        for row in LoginThrottle.objects.filter(
            key__in=[key for key, _free in _throttle_keys(username, ip)], blocked_until__gt=now
        )
        if row.blocked_until is not None
    ]
    return max(waits, default=0)


def record_login_failure(*, username: str, ip: str | None) -> None:
    now = timezone.now()
    for key, free in _throttle_keys(username, ip):
        with transaction.atomic():
            row, _created = LoginThrottle.objects.select_for_update().get_or_create(key=key)
            # Counters decay: a failure more than a day old no longer counts.
            if row.last_failure_at and now - row.last_failure_at > timedelta(days=1):
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= free:
                # Exponential back-off, capped: an attacker can slow an account, never lock it for good.
                delay = min(2 ** (row.failures - free) * 5, settings.CHANCERY_LOGIN_MAX_DELAY_SECONDS)
                row.blocked_until = now + timedelta(seconds=delay)
            row.save()


def record_login_success(*, username: str, ip: str | None) -> None:
    LoginThrottle.objects.filter(key=_throttle_keys(username, ip)[0][0]).delete()


_DUMMY_PASSWORD_HASH: str | None = None


def check_credentials(*, username: str, password: str) -> User | None:
    """The agent if the password is right; the same work is done for unknown names (no timing oracle)."""
    global _DUMMY_PASSWORD_HASH
    user = User.objects.unrestricted("authentication").filter(username__iexact=username.strip()).first()
    if user is None or not user.is_active:
        if _DUMMY_PASSWORD_HASH is None:
            _DUMMY_PASSWORD_HASH = make_password(secrets.token_hex(16))
        from django.contrib.auth.hashers import check_password

        check_password(password, _DUMMY_PASSWORD_HASH)
        return None
    return user if user.check_password(password) else None


# --- Second factor ------------------------------------------------------------------

def begin_totp_enrolment(*, user: User) -> str:
    """A new secret, kept unconfirmed until the agent proves their authenticator has it."""
    secret = pyotp.random_base32()
    _store_totp_secret(user, secret)
    return secret


TOTP_FIELDS = ["totp_secret_ciphertext", "totp_data_key", "totp_confirmed_at", "totp_last_step"]


@transaction.atomic
def _store_totp_secret(user: User, secret: str) -> None:
    """A new (or no) secret, unconfirmed, with the replay counter reset."""
    user.set_totp_secret(secret)
    user.totp_confirmed_at = None
    user.totp_last_step = 0
    user.save(update_fields=TOTP_FIELDS)


def totp_provisioning_uri(*, user: User) -> str:
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def _accept_totp(user: User, code: str) -> bool:
    code = code.strip().replace(" ", "")
    secret = user.totp_secret
    if not secret or not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    now = timezone.now()
    current_step = int(now.timestamp()) // totp.interval
    for offset in (0, -1, 1):  # one step of clock drift either way
        step = current_step + offset
        if step <= user.totp_last_step:
            continue  # a code already used cannot be replayed
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            with transaction.atomic():
                updated = User.objects.unrestricted("second factor").filter(
                    pk=user.pk, totp_last_step__lt=step
                ).update(totp_last_step=step)
            if updated:
                user.totp_last_step = step
                return True
            return False
    return False


def confirm_totp_enrolment(*, user: User, code: str) -> list[str]:
    """Confirms the authenticator and returns fresh recovery codes (shown once)."""
    if not _accept_totp(user, code):
        raise ValidationError(_("This code is not valid. Check your device's clock and try again."), code="totp")
    with transaction.atomic():
        User.objects.unrestricted("own second factor").filter(pk=user.pk).update(totp_confirmed_at=timezone.now())
        user.totp_confirmed_at = timezone.now()
        codes = _replace_recovery_codes(user)
        record_event(action="accounts.totp_enrolled", actor=user, target=user)
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=RecoveryCode.hash_code(c)) for c in codes])
    return codes


def verify_second_factor(*, user: User, code: str) -> bool:
    """A current TOTP code, or an unused recovery code (then spent)."""
    if _accept_totp(user, code):
        return True
    with transaction.atomic():
        spent = RecoveryCode.objects.filter(
            user=user, code_hash=RecoveryCode.hash_code(code), used_at__isnull=True
        ).update(used_at=timezone.now())
    if spent:
        record_event(action="accounts.recovery_code_used", actor=user, target=user)
    return bool(spent)


def reset_second_factor(*, actor: User, user: User) -> None:
    with transaction.atomic():
        _store_totp_secret(user, "")
        RecoveryCode.objects.filter(user=user).delete()
        record_event(action="accounts.totp_reset", actor=actor, target=user)


# --- Agents, memberships and clearances --------------------------------------------

def _compartments(codes: list[str]) -> list[Compartment]:
    found = list(Compartment.objects.filter(code__in=codes))
    missing = sorted(set(codes) - {c.code for c in found})
    if missing:
        raise ValidationError({"compartments": _("Unknown compartment: %(codes)s") % {"codes": ", ".join(missing)}})
    return found


@transaction.atomic
def create_user(
    *,
    actor: User | None,
    username: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    clearance_level: int = Level.UNCLASSIFIED,
    compartments: list[str] | None = None,
    memberships: list[tuple[Unit, str]] | None = None,
    is_superuser: bool = False,
    validate_password: bool = True,
) -> User:
    user = User(
        username=username.strip(),
        first_name=first_name,
        last_name=last_name,
        email=email,
        clearance_level=clearance_level,
        is_superuser=is_superuser,
        is_staff=is_superuser,
    )
    if password:
        if validate_password:
            from django.contrib.auth.password_validation import validate_password as check

            check(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    # Uniqueness is checked below outside the gate (Django's check reads through the gated manager).
    user.full_clean(validate_unique=False)
    if User.objects.unrestricted("uniqueness").filter(username__iexact=user.username).exists():
        raise ValidationError({"username": _("This user name is already taken.")})
    try:
        user.save()
    except IntegrityError as exc:
        raise ValidationError({"username": _("This user name is already taken.")}) from exc
    if compartments:
        user.clearance_compartments.set(_compartments(compartments))
    for unit, role in memberships or []:
        add_membership(actor=actor, user=user, unit=unit, role=role)
    record_event(
        action="accounts.user_created",
        actor=actor,
        target=user,
        details={"clearance": clearance_level, "compartments": compartments or [], "superuser": is_superuser},
    )
    return user


@transaction.atomic
def update_user(*, actor: User, user: User, lock_version: int | None = None, **fields: Any) -> User:
    """Change an agent's details; `lock_version` is the version the editor read (StaleVersion if it moved on)."""
    allowed = {"first_name", "last_name", "email", "is_active", "preferred_language"}
    changed = {}
    for name, value in fields.items():
        if name not in allowed:
            raise ValueError(f"field {name} cannot be changed here")
        if getattr(user, name) != value:
            changed[name] = value
            setattr(user, name, value)
    user.full_clean(validate_unique=False)  # the user name does not change here
    claim_version(user, lock_version)
    user.save()
    if changed:
        record_event(action="accounts.user_updated", actor=actor, target=user, details={"fields": sorted(changed)})
    return user


@transaction.atomic
def set_clearance(*, actor: User, user: User, level: int, compartments: list[str], reason: str) -> User:
    if level not in Level.values:
        raise ValidationError({"level": _("Unknown clearance level.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason for the change of clearance.")})
    before = {"level": user.clearance_level, "compartments": sorted(c.code for c in user.clearance_compartments.all())}
    user.clearance_level = level
    user.save(update_fields=["clearance_level"])
    user.clearance_compartments.set(_compartments(compartments))
    user.forget_cached_rights()
    record_event(
        action="accounts.clearance_changed",
        actor=actor,
        target=user,
        details={"before": before, "after": {"level": level, "compartments": sorted(compartments)}, "reason": reason},
    )
    return user


@transaction.atomic
def add_membership(
    *, actor: User | None, user: User, unit: Unit, role: str, start_date: date | None = None
) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    start = start_date or timezone.localdate()
    existing = Membership.objects.select_for_update().filter(user=user, unit=unit, role=role).first()
    if existing is not None and existing.end_date is None:
        raise ValidationError({"role": _("This agent already holds this role in this unit.")})
    if existing is not None:
        # One row per (agent, unit, role): an ended membership is opened again.
        membership = existing
        membership.start_date, membership.end_date = start, None
    else:
        membership = Membership(user=user, unit=unit, role=role, start_date=start)
    membership.full_clean()
    membership.save()
    user.forget_cached_rights()
    record_event(
        action="accounts.membership_added",
        actor=actor,
        target=user,
        details={"unit": unit.code, "role": role},
    )
    return membership


@transaction.atomic
def end_membership(*, actor: User, membership: Membership, end_date: date | None = None) -> Membership:
    """`end_date` (default today) is the first day without the role: ending today takes effect at once."""
    if membership.end_date is not None and membership.end_date <= timezone.localdate():
        raise ValidationError({"end_date": _("This membership has already ended.")})
    membership.end_date = end_date or timezone.localdate()
    if membership.end_date < membership.start_date:
        raise ValidationError({"end_date": _("The end date is before the start date.")})
    membership.save(update_fields=["end_date"])
    membership.user.forget_cached_rights()
    record_event(
        action="accounts.membership_ended",
        actor=actor,
        target=membership.user,
        details={"unit": membership.unit.code, "role": membership.role},
    )
    return membership


# --- API tokens -------------------------------------------------------------------

TOKEN_PREFIX = "chy_"  # noqa: S105 - a public marker, not a secret


def issue_api_token(*, user: User, name: str = "cli", lifetime_days: int | None = 365) -> str:
    """Creates a token and returns its clear value, which is never stored."""
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(days=lifetime_days) if lifetime_days else None
    with transaction.atomic():
        ApiToken.objects.create(
            user=user, name=name, prefix=clear[:12], token_hash=ApiToken.hash_token(clear), expires_at=expires
        )
        record_event(action="accounts.token_issued", actor=user, target=user, details={"name": name})
    return clear


def user_for_token(token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    # every API request: statements written once (`chancery.core.db.rows_where`)
    found = rows_where(
        ApiToken, f"t.{column(ApiToken, 'token_hash')} = %s AND t.{column(ApiToken, 'revoked_at')} IS NULL",
        [ApiToken.hash_token(token)],
    )
    row = found[0] if found else None
    now = timezone.now()
    if row is None or (row.expires_at and row.expires_at <= now):
        return None
    row.user = rows_by_key(User, [row.user_id]).get(row.user_id)
    if row.user is None or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user
