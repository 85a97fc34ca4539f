"""Shared test fixtures: a private data dir per test, the demo ministry, signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from pytest_django.fixtures import Settings

DEMO_SEED = 7


@pytest.fixture(autouse=True)
def data_dir(settings: Settings, tmp_path: Path) -> Path:
    """Every test writes under its own data dir: two tests never share keys or files."""
    path = tmp_path / "data"
    path.mkdir(exist_ok=True)
    settings.CHANCERY_DATA_DIR = path
    settings.CHANCERY_ATTACHMENT_DIR = path / "attachments"
    settings.CHANCERY_MASTER_KEY = None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return path


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Every test starts in the ministry's default language. LocaleMiddleware activates the
    request's language in the thread and never resets it, so a test client's English request
    would otherwise decide the language of whatever test runs next on that worker."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> None:
    """What the application remembers per process about readers (whether a scope is narrow)
    starts empty in each test: two tests' readers share ids, not data."""
    from chancery.correspondence.models import forget_narrow_decisions

    forget_narrow_decisions()


# Argon2 with its cheapest parameters, for every password hashed or checked in the test process
# (the live server of the browser tests included): the same algorithm and checks, without the
# production cost (100 MB and about 0.2 s per hash), which every demo build and every sign-in
# through the form paid. Servers the tests start as processes keep the production parameters.
FAST_HASHERS = [
    "chancery.accounts.tests.hashers.FastArgon2Hasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The demo ministry's units and agents, built once per test database.

    Tests run in transactions rolled back afterwards, so they all start from this state.
    Transactional tests (which flush the database) rebuild it with `fresh_ministry`.
    """
    from django.conf import settings

    from chancery.organisation.demo import build_ministry

    settings.PASSWORD_HASHERS = FAST_HASHERS  # for the whole session (see FAST_HASHERS)
    with django_db_blocker.unblock():
        build_ministry(seed=DEMO_SEED)
    yield


@pytest.fixture
def ministry(db: None) -> Any:
    from chancery.organisation.demo import load_ministry

    return load_ministry()


@pytest.fixture
def fresh_ministry(transactional_db: None, django_db_serialized_rollback: None) -> Any:
    """The demo ministry for transactional tests (real threads, live server).

    Their database is flushed after each test, which also wipes what data migrations seeded
    (the default planning axes): serialized rollback restores it first.
    """
    from chancery.organisation.demo import build_ministry, load_ministry
    from chancery.organisation.models import Unit

    if not Unit.objects.unrestricted("test set-up").exists():
        build_ministry(seed=DEMO_SEED)
    return load_ministry()


def sign_in(client: Client, user: Any) -> Client:
    """A session as after a complete sign-in (second factor included)."""
    import time

    from chancery.accounts.middleware import SESSION_SECOND_FACTOR, SESSION_SEEN, SESSION_STARTED

    client.force_login(user, backend="chancery.accounts.backends.ChanceryBackend")
    session = client.session
    now = int(time.time())
    session[SESSION_SECOND_FACTOR] = True
    session[SESSION_STARTED] = now
    session[SESSION_SEEN] = now
    session.save()
    return client


@pytest.fixture
def client_for(ministry: Any) -> Callable[[str], Client]:
    """`client_for("hom.dakar")`: a test client signed in as that demo agent."""

    def make(username: str) -> Client:
        return sign_in(Client(), ministry.users[username])

    return make


@pytest.fixture
def run_tasks(db: None, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Run every queued background task now, through the real database worker (in this process).

    The worker closes "old" connections between tasks, which inside a test's transaction would
    close the test's own connection: that one hygiene call is switched off, nothing else.
    """
    from django.core.management import call_command
    from django_tasks_db.management.commands import db_worker

    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    def run() -> None:
        call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)

    return run


# --- The PostgreSQL part of `make test` --------------------------------------------------

_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
                      "live_server"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only", action="store_true",
        help="deselect the tests that cannot reach the database (their result does not depend on the engine); "
             "the PostgreSQL part of `make test` runs with it, after the SQLite part ran everything",
    )


def _reaches_database(item: pytest.Item) -> bool:
    # pytest-django refuses database access to a test without one of these, so a test that
    # has none gives the same result whatever DATABASE_URL names.
    names = set(getattr(item, "fixturenames", ()))
    return bool(names & _DATABASE_FIXTURES) or item.get_closest_marker("django_db") is not None


# --- Scheduling on two workers ---------------------------------------------------------
# The longest tests (node id prefixes, longest first; from `--durations`). They run first, within
# pytest-django's order by kind of database use (which must win: a transactional test flushes the
# database, so plain database tests must not follow it on a worker; this is also why only the
# browser part, all transactional, may use `--dist worksteal`), so that short tests fill the gaps
# and no long test ends a part alone on one worker.
LONG_RUNNING = (
    "tests/crash/",
    "chancery/backup/tests/test_backup.py::test_sqlite_to_postgresql_and_back",
    "chancery/core/tests/test_api_fuzz.py",
    "tests/test_serve.py",
    "chancery/backup/tests/test_backup.py",
    "chancery/core/tests/test_gate_urls.py::test_every_view_goes_through_the_gate_for_every_role",
    "tests/browser/test_accessibility.py",
    "tests/browser/test_working_day_journey.py",
    "tests/browser/test_new_user_journeys.py::test_journey_c",
    "chancery/planning/tests/test_texts_at_rest.py",
    "tests/test_cli.py",
    "chancery/correspondence/tests/test_query_counts.py",
    "tests/browser/test_planning_journey.py",
    "tests/browser/test_correspondence_journey.py",
    "tests/browser/test_reporting_journey.py",
    "chancery/planning/tests/test_query_counts.py",
    "chancery/correspondence/tests/test_demo_at_rest.py",
    "chancery/correspondence/tests/test_domain_demo.py",
)


def _long_running_rank(item: pytest.Item) -> int:
    return next((rank for rank, prefix in enumerate(LONG_RUNNING) if item.nodeid.startswith(prefix)),
                len(LONG_RUNNING))


@pytest.hookimpl(tryfirst=True)  # before pytest-django's (stable) sort by kind of database use, which must win
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_long_running_rank)  # stable: the others keep their order
    if not config.getoption("--database-tests-only"):
        return
    kept = [item for item in items if _reaches_database(item)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if not _reaches_database(item)])
        items[:] = kept
