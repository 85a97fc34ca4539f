"""Typed reading of Chancery's settings from the environment.

Every setting that differs between deployments comes from an environment variable,
parsed here with a clear error when malformed (Paperless-ngx style), so that a typo
stops the start-up instead of silently falling back to a default.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse


class ConfigurationError(Exception):
    """A malformed environment variable."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        parsed = int(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from exc
    if minimum is not None and parsed < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {parsed}")
    return parsed


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = (os.environ.get(name) or "").strip().lower()
    if value == "":
        return default
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name: str) -> list[str]:
    """Comma-separated IP addresses or networks (`10.0.0.1`, `10.0.0.0/8`, `::1`), checked now."""
    import ipaddress

    networks = []
    for item in env_list(name, []):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as exc:
            raise ConfigurationError(f"{name}: {item!r} is not an IP address or network") from exc
    return networks


@dataclass(frozen=True)
class DatabaseConfig:
    engine: str
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""
    options: dict[str, str] | None = None


def parse_database_url(url: str) -> DatabaseConfig:
    """Parse `postgres://user:pass@host:port/name` or `sqlite:///path`."""
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parsed.path.lstrip("/"))
        if not name:
            raise ConfigurationError("DATABASE_URL must name a database, e.g. postgres://user@host:5432/chancery")
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        try:
            port = parsed.port
        except ValueError as exc:
            raise ConfigurationError(f"DATABASE_URL has an invalid port: {exc}") from exc
        return DatabaseConfig(
            engine="django.db.backends.postgresql",
            name=name,
            user=unquote(parsed.username or ""),
            password=unquote(parsed.password or ""),
            host=parsed.hostname or "",
            port=str(port or ""),
            options=options or None,
        )
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path (the usual DATABASE_URL convention).
        path = unquote(parsed.path)[1:]
        if not path or path == "/":
            raise ConfigurationError("DATABASE_URL sqlite:/// needs a file path")
        return DatabaseConfig(engine="django.db.backends.sqlite3", name=path)
    raise ConfigurationError(f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use postgres:// or sqlite:///)")


def load_or_create_secret_key(data_dir: Path) -> str:
    """The secret key lives in the data dir, created once with mode 0600; never a hard-coded default."""
    path = data_dir / "secret_key"
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 50:
            raise ConfigurationError(f"{path} holds a secret key that is too short")
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    # A private temporary name (mode 0600): a file left by a crashed start or a concurrent
    # first start cannot get in the way.
    fd, tmp_name = tempfile.mkstemp(prefix=".secret_key.", dir=data_dir)
    tmp = Path(tmp_name)
    try:
        os.write(fd, key.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link() fails if another process won the race: then its key is the one to use.
        os.link(tmp, path)
    except FileExistsError:
        return load_or_create_secret_key(data_dir)
    finally:
        tmp.unlink(missing_ok=True)
    return key
