"""Settings read from the environment: typed parsing with clear errors, the generated secret key."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from chancery.env import (
    ConfigurationError,
    env_bool,
    env_int,
    env_list,
    env_str,
    load_or_create_secret_key,
    parse_database_url,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("YES", True), (" on ", True),
                                               ("0", False), ("False", False), ("no", False), ("off", False)])
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("CHANCERY_X", raw)
    assert env_bool("CHANCERY_X") is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "yes please", "tru"])
def test_env_bool_refuses_anything_else_and_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("CHANCERY_X", raw)
    with pytest.raises(ConfigurationError, match=r"CHANCERY_X must be true or false"):
        env_bool("CHANCERY_X")


def test_unset_or_empty_variables_take_the_default(monkeypatch):
    monkeypatch.delenv("CHANCERY_X", raising=False)
    assert env_bool("CHANCERY_X", True) is True
    assert env_int("CHANCERY_X", 7) == 7
    assert env_str("CHANCERY_X", "d") == "d"
    assert env_list("CHANCERY_X", ["a"]) == ["a"]
    monkeypatch.setenv("CHANCERY_X", "")
    assert env_bool("CHANCERY_X", True) is True
    assert env_int("CHANCERY_X", 7) == 7
    assert env_str("CHANCERY_X", "d") == "d"


def test_env_int(monkeypatch):
    monkeypatch.setenv("CHANCERY_X", "42")
    assert env_int("CHANCERY_X", 1, minimum=1) == 42
    for raw in ("4.5", "ten", "0x10", "1e3"):
        monkeypatch.setenv("CHANCERY_X", raw)
        with pytest.raises(ConfigurationError, match="CHANCERY_X must be a whole number"):
            env_int("CHANCERY_X", 1)
    monkeypatch.setenv("CHANCERY_X", "0")
    with pytest.raises(ConfigurationError, match="CHANCERY_X must be at least 1, not 0"):
        env_int("CHANCERY_X", 1, minimum=1)


def test_env_list(monkeypatch):
    monkeypatch.setenv("CHANCERY_X", " a.example , b.example,, ")
    assert env_list("CHANCERY_X", []) == ["a.example", "b.example"]


def test_database_url_postgres():
    config = parse_database_url("postgres://chancery:p%40ss@db.internal:5433/chancery?sslmode=require")
    assert config.engine == "django.db.backends.postgresql"
    assert (config.name, config.user, config.password, config.host, config.port) == (
        "chancery", "chancery", "p@ss", "db.internal", "5433")
    assert config.options == {"sslmode": "require"}
    config = parse_database_url("postgresql://postgres@127.0.0.1/test")
    assert (config.user, config.password, config.port, config.options) == ("postgres", "", "", None)


def test_database_url_sqlite():
    assert parse_database_url("sqlite:////var/lib/chancery/db.sqlite3").name == "/var/lib/chancery/db.sqlite3"
    assert parse_database_url("sqlite:///var/relative.sqlite3").name == "var/relative.sqlite3"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://user@host:5432/", "must name a database"),
        ("postgres://user@host:notaport/db", "invalid port"),
        ("postgres://user@host:99999/db", "invalid port"),
        ("mysql://user@host/db", "scheme 'mysql' is not supported"),
        ("not a url", "scheme '' is not supported"),
        ("sqlite:///", "needs a file path"),
    ],
)
def test_bad_database_urls_give_a_clear_error(url, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_database_url(url)


def test_the_secret_key_is_generated_private_and_reused(tmp_path):
    data_dir = tmp_path / "data"
    key = load_or_create_secret_key(data_dir)
    path = data_dir / "secret_key"
    assert len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key
    assert load_or_create_secret_key(data_dir) == key
    assert sorted(p.name for p in data_dir.iterdir()) == ["secret_key"]  # no temporary file left
    assert load_or_create_secret_key(tmp_path / "other") != key  # two data dirs, two keys


def test_a_file_left_by_a_crashed_start_does_not_block_the_next_one(tmp_path):
    (tmp_path / "secret_key.tmp").write_text("half-written")
    (tmp_path / ".secret_key.abc123").write_text("half-written")
    key = load_or_create_secret_key(tmp_path)
    assert (tmp_path / "secret_key").read_text() == key


def test_concurrent_first_starts_agree_on_one_key(tmp_path):
    keys: list[str] = []
    threads = [threading.Thread(target=lambda: keys.append(load_or_create_secret_key(tmp_path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_a_truncated_secret_key_is_refused(tmp_path):
    (tmp_path / "secret_key").write_text("short")
    with pytest.raises(ConfigurationError, match="too short"):
        load_or_create_secret_key(tmp_path)


def _settings_in_subprocess(tmp_path: Path, **env: str) -> dict[str, Any]:
    """Import chancery.settings afresh with this environment and report a few values."""
    code = (
        "import json, chancery.settings as s;"
        "print(json.dumps({k: getattr(s, k) for k in ('DEBUG', 'SECURE_HSTS_SECONDS', 'SECURE_SSL_REDIRECT',"
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'ALLOWED_HOSTS', 'SECRET_KEY')}"
        " | {'ENGINE': s.DATABASES['default']['ENGINE'], 'NAME': str(s.DATABASES['default']['NAME'])}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CHANCERY_", "DATABASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "CHANCERY_DATA_DIR": str(tmp_path), **env},
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_settings_from_the_environment(tmp_path):
    values = _settings_in_subprocess(
        tmp_path, CHANCERY_HTTPS="true", CHANCERY_DEBUG="false", CHANCERY_ALLOWED_HOSTS="chancery.ministry.example",
        DATABASE_URL="postgres://chancery@db.internal:5432/chancery",
    )
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_SSL_REDIRECT"] and values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["chancery.ministry.example"]
    assert values["ENGINE"] == "chancery.core.pg_backend"  # Django's, its reads prepared
    assert values["SECRET_KEY"] == (tmp_path / "secret_key").read_text()
    # By default: SQLite under the data dir, no HSTS, the same key as before.
    values = _settings_in_subprocess(tmp_path)
    assert values["ENGINE"] == "django.db.backends.sqlite3"
    assert values["NAME"] == str(tmp_path / "chancery.sqlite3")
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECRET_KEY"] == (tmp_path / "secret_key").read_text()


def test_the_deploy_check_flags_debug_and_plain_http(settings):
    from chancery.core.checks import check_deploy

    settings.DEBUG = False
    settings.SESSION_COOKIE_SECURE = True
    assert check_deploy(None) == []
    settings.SESSION_COOKIE_SECURE = False
    assert [m.id for m in check_deploy(None)] == ["chancery.W001"]
    settings.DEBUG = True
    assert [m.id for m in check_deploy(None)] == ["chancery.E001", "chancery.W001"]


def _cache_backend(tmp_path, **env):
    code = "import chancery.settings as s; print(s.CACHES['default']['BACKEND'])"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CHANCERY_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, "CHANCERY_DATA_DIR": str(tmp_path), **env},
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )


def test_the_cache_shared_by_several_servers_is_chosen_by_the_environment(tmp_path):
    assert _cache_backend(tmp_path).stdout.strip().endswith("LocMemCache")
    shared = _cache_backend(tmp_path, CHANCERY_CACHE="database")
    assert shared.stdout.strip() == "django.core.cache.backends.db.DatabaseCache"
    wrong = _cache_backend(tmp_path, CHANCERY_CACHE="redis")
    assert wrong.returncode != 0 and "CHANCERY_CACHE must be one of" in wrong.stderr


def _sqlite_mmap_size(tmp_path, **env):
    """`PRAGMA mmap_size` of a fresh connection to the data dir's SQLite database."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'chancery.settings'; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('PRAGMA mmap_size'); print(c.fetchone()[0])"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CHANCERY_", "DATABASE_URL", "DJANGO_"))}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**clean, "CHANCERY_DATA_DIR": str(tmp_path), **env},
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def test_sqlite_reads_map_the_database_file_unless_turned_off(tmp_path):
    # Mapped by default (SQLite may cap the size at its build's limit, never to nothing)...
    assert _sqlite_mmap_size(tmp_path) > 0
    assert _sqlite_mmap_size(tmp_path, CHANCERY_SQLITE_MMAP_MB="16") == 16 << 20
    # ...and off when asked.
    assert _sqlite_mmap_size(tmp_path, CHANCERY_SQLITE_MMAP_MB="0") == 0


def _postgresql_options(tmp_path, **env):
    """The OPTIONS of the PostgreSQL connection the settings give for a deployment's variables."""
    code = (
        "import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'chancery.settings'\n"
        "from django.conf import settings\n"
        "db = settings.DATABASES['default']\n"
        "print(json.dumps({**db['OPTIONS'], 'engine': db['ENGINE']}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CHANCERY_", "DATABASE_URL", "DJANGO_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "CHANCERY_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://ch@db.example:5432/ch", **env},
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgresql_reads_are_prepared_with_generic_plans_unless_turned_off(tmp_path):
    on = _postgresql_options(tmp_path)
    assert on["engine"] == "chancery.core.pg_backend" and "-c plan_cache_mode=force_generic_plan" in on["options"]
    # Django's own binding otherwise: values written into each statement by the client.
    assert "server_side_binding" not in on and "prepare_threshold" not in on and "-c jit=off" in on["options"]
    off = _postgresql_options(tmp_path, CHANCERY_PG_PREPARED="false")
    assert off["engine"] == "django.db.backends.postgresql" and "plan_cache_mode" not in off["options"]
