"""The `chancery` console script, run as a real subprocess against its own data dir.

Subprocesses are slow (each starts Django), so one migrated SQLite data dir is shared by
the module and the calls are kept few; `--help` of every command is checked in-process.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import get_commands

from chancery.cli import COMMANDS, main

# The subprocess tests start from a copy of the test database: pytest-django creates it
# only for a session whose tests ask for the database.
# The subprocesses run on their own SQLite data dir whatever DATABASE_URL says (`_env` drops it), and
# `--help` reads no table: the PostgreSQL part of `make test` would run the same SQLite calls again.
pytestmark = [pytest.mark.django_db, pytest.mark.engine_independent]

CHANCERY = Path(sys.executable).parent / "chancery"
PASSWORD = "Correct-horse-battery-9"


def _env(cli_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHANCERY_", "DATABASE_URL", "DJANGO_"))}
    return {**env, "CHANCERY_DATA_DIR": str(cli_dir), "CHANCERY_PLAIN_STATIC": "true", **extra}


def run(cli_dir: Path, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHANCERY), *args], input=stdin, env=_env(cli_dir, **env), capture_output=True, text=True,
        timeout=120, check=False,
    )


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory: pytest.TempPathFactory, django_db_setup: None, django_db_blocker: Any) -> Path:
    """A data dir with a migrated database holding the demo organisation.

    On SQLite it is a copy of the test database (already migrated, with the demo ministry),
    which saves two slow subprocesses; otherwise `chancery migrate` and `chancery demo` build it.
    """
    from django.db import connection

    path = tmp_path_factory.mktemp("cli") / "data"
    path.mkdir()
    if connection.vendor == "sqlite":
        with django_db_blocker.unblock():
            connection.ensure_connection()
            target = sqlite3.connect(path / "chancery.sqlite3")
            try:
                connection.connection.backup(target)
                has_demo = target.execute("SELECT 1 FROM organisation_unit WHERE code = 'DAKAR'").fetchone()
            finally:
                target.close()
        commands = [] if has_demo else [("demo", "--organisation-only", "-v0")]  # flushed by a transactional test
    else:
        commands = [("migrate", "--noinput", "-v0"), ("demo", "--organisation-only", "-v0")]
    for args in commands:
        result = run(path, *args)
        assert result.returncode == 0, result.stderr
    return path


def _available() -> list[str]:
    installed = get_commands()
    return [name for name in COMMANDS if name.replace("-", "_") in installed]


def test_the_console_script_lists_every_command(tmp_path):
    result = run(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    for name in ("serve", "demo", "createuser", "token", "verify-audit"):
        assert name in _available()
    for name in _available():
        assert f"\n  {name} " in result.stdout, name
    assert "--help" in result.stdout


@pytest.mark.parametrize("name", _available())
def test_each_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["chancery", name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: chancery ") and "--help" in out


def test_createuser_then_token_then_the_api(cli_dir):
    result = run(cli_dir, "createuser", "a.diallo", "--unit", "DAKAR", "--role", "counsellor", "--clearance",
                 "restricted", "--first-name", "Aminata", "--last-name", "Diallo", "--password-stdin",
                 stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "created a.diallo"
    result = run(cli_dir, "token", "a.diallo", "--name", "tests", "--days", "2")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("chy_") and len(token.splitlines()) == 1
    script = f"""
import json
from django.test import Client
from chancery.accounts.models import User
user = User.objects.unrestricted("test").get(username="a.diallo")
api = Client(HTTP_AUTHORIZATION="Bearer {token}")
units = api.get("/api/v1/units", {{"q": "DAKAR"}})
me = api.get("/api/v1/users/a.diallo")
print(json.dumps({{
    "password": user.check_password("{PASSWORD}"), "level": user.clearance_level,
    "units": [u["code"] for u in units.json()["items"]], "me": me.json()["memberships"],
    "anonymous": Client().get("/api/v1/units").status_code,
}}))
"""
    result = run(cli_dir, "shell", "-c", script)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["password"] is True and seen["level"] == 1
    assert seen["units"] == ["DAKAR"]
    assert [(m["unit"], m["role"]) for m in seen["me"]] == [("DAKAR", "counsellor")]
    assert seen["anonymous"] == 401


@pytest.mark.parametrize(
    ("args", "stdin", "env", "message"),
    [
        (("createuser", "b.ba", "--unit", "NOWHERE", "--password-stdin"), PASSWORD + "\n", {}, "unknown unit"),
        (("createuser", "b.ba", "--password-stdin"), "short\n", {}, "10"),
        (("token", "nobody-at-all"), None, {}, "no active user"),
        (("check",), None, {"CHANCERY_DEBUG": "maybe"}, "CHANCERY_DEBUG must be true or false"),
    ],
    ids=["unknown-unit", "weak-password", "unknown-user", "bad-setting"],
)
def test_errors_are_one_line_on_stderr_and_a_failure_exit(cli_dir, args, stdin, env, message):
    result = run(cli_dir, *args, stdin=stdin, **env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_an_unexpected_error_is_one_line_too(tmp_path):
    result = run(tmp_path, "token", "someone")  # an empty data dir: no database tables yet
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "chancery: OperationalError: no such table: accounts_user "
        "(is the database reachable and migrated? `chancery migrate`)"
    ]


def test_verify_audit_exit_codes(cli_dir, tmp_path):
    result = run(cli_dir, "verify-audit")
    assert result.returncode == 0, result.stderr
    assert "audit log valid" in result.stdout
    # Tamper with a copy of the database: the command fails with one line.
    copy = tmp_path / "copy"
    shutil.copytree(cli_dir, copy)
    with sqlite3.connect(copy / "chancery.sqlite3") as db:
        db.execute("UPDATE audit_auditevent SET action = 'tampered' WHERE sequence = 2")
    result = run(copy, "verify-audit")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["CommandError: audit log NOT valid: event 2 was altered"]


# Warnings Django's deploy checks give that are a deliberate choice, not a defect:
# security.W021 asks for HSTS preloading, which would pin the ministry's whole domain
# in browsers' built-in lists; that is the operator's decision, not the application's.
ACCEPTED_DEPLOY_WARNINGS = {"security.W021"}


def test_check_deploy_passes_with_production_settings(cli_dir):
    # Production keeps the key-encryption key apart from the data dir (else crypto.W001).
    master_key = base64.b64encode(os.urandom(32)).decode()
    result = run(cli_dir, "check", "--deploy", CHANCERY_HTTPS="true", CHANCERY_DEBUG="false",
                 CHANCERY_ALLOWED_HOSTS="chancery.ministry.example", CHANCERY_MASTER_KEY=master_key)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    reported = {line.split(")")[0].split("(")[-1] for line in output.splitlines() if line.startswith("?: (")}
    assert reported <= ACCEPTED_DEPLOY_WARNINGS, output
    assert "ERROR" not in output
