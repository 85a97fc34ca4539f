"""`chancery generate dispatches`: the bulk generator writes data the application accepts.

A small generation in several batches over ten years (extra missions, programmes, the derived
tables rebuilt) is then read through the real gate and pages by four kinds of agents; two runs
with the same seed and end date give the same references and subjects.
"""

from __future__ import annotations

import io
import os
import time
from collections import defaultdict
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from chancery.accounts.models import Membership
from chancery.correspondence import selectors, substring_index
from chancery.correspondence.models import Dispatch, NumberCounter, Routing
from chancery.correspondence.signatures import verify_dispatch
from chancery.correspondence.tests.domain_helpers import inbox_keys_out_of_step
from chancery.notifications.models import Notification, Verb
from chancery.organisation.models import Unit, UnitKind
from chancery.planning.models import Programme
from chancery.search.models import SearchDocument

COUNT = 240
ARGS = ["--count", str(COUNT), "--batch", "80", "--years", "10", "--until", "2026-06-30", "--seed", "5"]


class _Undo(Exception):
    pass


def _generate(*extra: str) -> str:
    out = io.StringIO()
    call_command("generate", "dispatches", *ARGS, "--no-progress", *extra, stdout=out)
    return out.getvalue()


def _fingerprint() -> list[tuple[str | None, str, int, str]]:
    rows = Dispatch.objects.unrestricted("test").select_related("data_key").order_by("sent_at", "pk")
    return [(d.reference, d.sending_unit.code, d.classification, selectors.dispatch_subject(d)) for d in rows]


def test_generation_is_valid_for_the_gate_and_the_pages(ministry: Any, client_for: Any) -> None:
    missions_before = Unit.objects.unrestricted("test").filter(kind=UnitKind.MISSION).count()
    output = _generate("--missions", str(missions_before + 2), "--no-programmes")
    assert "2 missions added" in output
    dispatches = list(Dispatch.objects.unrestricted("test").select_related("sending_unit", "author", "sent_by"))
    assert len(dispatches) >= COUNT * 0.95
    # ten years, numbered gap-free per unit and year, the counters agreeing
    years = {d.year for d in dispatches if d.year}
    assert len(years) >= 9, years
    numbers: dict[tuple[int, int], list[int]] = defaultdict(list)
    for d in dispatches:
        if d.number is not None and d.year is not None:
            numbers[(d.sending_unit_id, d.year)].append(d.number)
    for (unit_id, year), got in numbers.items():
        assert sorted(got) == list(range(1, len(got) + 1)), (unit_id, year)
        assert NumberCounter.objects.get(unit_id=unit_id, year=year).last_number == len(got)
    # numbers rise with the dates within a unit's year (batches follow each other in time)
    by_unit_year: dict[tuple[int, int], list[tuple[Any, int]]] = defaultdict(list)
    for d in dispatches:
        if d.number is not None and d.year is not None:
            by_unit_year[(d.sending_unit_id, d.year)].append((d.sent_at, d.number))
    for group in by_unit_year.values():
        assert [number for _at, number in sorted(group)] == sorted(number for _at, number in group)
    # signed and encrypted as the services do
    sent = [d for d in dispatches if d.is_sent]
    for d in sent[:: max(1, len(sent) // 40)]:
        assert verify_dispatch(d).valid, d.reference
    assert any(d.needs_encryption and d.is_encrypted and d.subject == "" for d in dispatches)
    # the inbox's stored order keys written with the rows (answers linked in later batches too)
    assert inbox_keys_out_of_step() == []
    # the search index rebuilt (rebuild_derived)
    assert SearchDocument.objects.unrestricted("test").filter(doc_type="dispatch").count() == len(dispatches)

    # the pages answer for four kinds of agents, through the gate
    for username in ("counsellor.dakar", "desk.dab1", "director.dab", "clerk.sgbo"):
        client = client_for(username)
        for url in ("/", "/correspondence/", "/correspondence/sent/"):
            assert client.get(url).status_code == 200, (username, url)
        user = ministry.users[username]
        visible = Dispatch.objects.visible_to(user)
        readable = visible.exclude(status="draft").order_by("-pk").first()
        if readable is not None:
            assert client.get(f"/correspondence/dispatches/{readable.pk}/").status_code == 200, username
    # notifications: each agent told of their units' latest routings, read through the gate
    told = list(Notification.objects.unrestricted("test").all())
    assert told and {n.verb for n in told} <= {Verb.DISPATCH_ATTRIBUTED, Verb.DISPATCH_FOR_INFORMATION}
    for n in told[:: max(1, len(told) // 60)]:
        routed = Routing.objects.unrestricted("test").filter(dispatch_id=int(n.target_id)).values("unit_id")
        assert Membership.objects.filter(user_id=n.recipient_id, unit_id__in=routed).active().exists()
        assert n.url == f"/correspondence/dispatches/{n.target_id}/" and n.created_at is not None
    assert any(n.read_at is None for n in told) and any(n.read_at is not None for n in told)
    counsellor = ministry.users["counsellor.dakar"]
    theirs = Notification.objects.visible_to(counsellor)
    assert theirs.exists()
    assert all(Dispatch.objects.visible_to(counsellor).filter(pk=int(n.target_id)).exists() for n in theirs)
    page = client_for("counsellor.dakar").get("/notifications/")
    newest = Dispatch.objects.visible_to(counsellor).get(pk=int(theirs[0].target_id))
    assert page.status_code == 200 and str(newest.reference) in page.content.decode()  # the row says what it is about
    again = io.StringIO()
    call_command("generate", "notifications", stdout=again)
    assert again.getvalue().startswith("0 notifications written")  # nothing twice
    hidden = Dispatch.objects.unrestricted("test").exclude(pk__in=Dispatch.objects.visible_to(counsellor)).first()
    assert hidden is not None
    assert client_for("counsellor.dakar").get(f"/correspondence/dispatches/{hidden.pk}/").status_code == 404


@pytest.mark.django_db
def test_same_seed_same_references_and_subjects(ministry: Any) -> None:
    runs = []
    for _ in range(2):
        try:
            with transaction.atomic():
                _generate("--no-programmes", "--no-reindex")
                runs.append(_fingerprint())
                raise _Undo
        except _Undo:
            pass
    assert runs[0] and len(runs[0]) >= COUNT * 0.95
    assert runs[0] == runs[1]


def test_programmes_for_the_missions_without_one(ministry: Any) -> None:
    """Every mission gets the demo's programmes once: a second run adds none."""
    from chancery.correspondence.generators import _programmes
    from chancery.organisation.demo import DemoMinistry

    two = sorted(ministry.missions, key=lambda u: u.code)[:2]
    small = DemoMinistry(units={u.code: u for u in two}, users=ministry.users)
    _programmes(small, seed=5, stdout=io.StringIO())
    planned = set(Programme.objects.values_list("mission_id", flat=True))
    assert planned == {u.pk for u in two}
    count = Programme.objects.count()
    assert count >= 2
    _programmes(small, seed=5, stdout=io.StringIO())
    assert Programme.objects.count() == count


@pytest.mark.django_db
def test_generation_records_its_directories_as_swept_unless_another_changed(ministry: Any) -> None:
    """A server start after a million generated dispatches must not open every directory again,
    and a file another writer left behind must still be swept."""
    from chancery.correspondence import storage
    from chancery.correspondence.tests.domain_helpers import PDF, draft

    root = storage.root()
    earlier = draft(ministry, attachments=[("rapport.pdf", PDF)])
    orphan = root / storage.new_name(earlier.pk)
    orphan.write_bytes(b"left by a crash")
    old = time.time() - 7200
    os.utime(orphan, (old, old))

    _generate("--no-programmes", "--no-reindex")
    generated = [p for p in root.iterdir() if p.name.isdigit() and int(p.name) > earlier.pk]
    assert generated, "the generator wrote no attachment"
    # The earlier dispatch's directory changed since the last sweep (there was none): no record.
    assert not (root / storage.SWEPT_MARKER).exists()
    assert storage.sweep(older_than_seconds=600) == 1
    assert not orphan.exists()
    assert storage.sweep(older_than_seconds=0) == 0  # the store is clean up to now

    _generate("--no-programmes", "--no-reindex", "--seed", "6")
    since = float((root / storage.SWEPT_MARKER).read_text(encoding="ascii"))
    newer = [p for p in root.iterdir() if p.name.isdigit() and p.stat().st_mtime >= since]
    assert newer == [], "the next sweep would reopen the generated directories"
    assert len([p for p in root.iterdir() if p.name.isdigit()]) > len(generated) + 1


def _indexed_candidates(text: str) -> set[int]:
    """The dispatches the substring index names for `text` (its candidates, before any other test)."""
    condition = substring_index.words_filter_q(text, few=10**9, many=10**9)
    return set(Dispatch.objects.unrestricted("test: the index's candidates").filter(condition)
               .values_list("pk", flat=True))


def _clear_subjects() -> dict[int, str]:
    return dict(Dispatch.objects.unrestricted("test").exclude(subject="").values_list("pk", "subject"))


def test_a_load_larger_than_the_database_leaves_the_substring_index_whole(ministry: Any) -> None:
    """On SQLite the index is taken down for the load and built from the table after it (PostgreSQL
    keeps its indexes through it); either way it ends complete, in step with the table, and finds a
    generated dispatch by a word of its clear subject."""
    assert Dispatch.objects.unrestricted("test").count() < COUNT
    out = _generate("--no-programmes", "--no-reindex")
    assert ("Substring index built" in out) == (connection.vendor == "sqlite")
    assert substring_index.missing() == [] and substring_index.drift() == 0
    pk, subject = max(_clear_subjects().items())
    word = max(subject.split(), key=len)
    assert pk in _indexed_candidates(word.upper())
    # still kept by its triggers or indexes afterwards: a later write is found at once
    Dispatch.objects.unrestricted("test").filter(pk=pk).update(subject="Pêcheries minotières")
    assert pk in _indexed_candidates("minotière") and pk not in _indexed_candidates(word)


def test_a_load_stopped_half_way_still_leaves_the_substring_index_whole(ministry: Any, monkeypatch: Any) -> None:
    from chancery.correspondence import demo

    real = demo.write_correspondence
    batches: list[int] = []

    def interrupted(**kwargs: Any) -> Any:
        if batches:
            raise KeyboardInterrupt  # Ctrl-C during the second batch
        batches.append(kwargs["count"])
        return real(**kwargs)

    monkeypatch.setattr(demo, "write_correspondence", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _generate("--no-programmes", "--no-reindex")
    assert batches == [80]
    assert substring_index.missing() == [] and substring_index.drift() == 0
    pk, subject = max(_clear_subjects().items())
    assert pk in _indexed_candidates(max(subject.split(), key=len))


def test_a_small_load_into_a_larger_database_keeps_the_index_as_it_is(ministry: Any) -> None:
    _generate("--no-programmes", "--no-reindex")
    out = io.StringIO()
    call_command("generate", "dispatches", "--count", "20", "--batch", "20", "--seed", "9", "--until", "2026-07-31",
                 "--no-progress", "--no-programmes", "--no-reindex", "--no-notifications", stdout=out)
    assert "Substring index built" not in out.getvalue()
    assert substring_index.missing() == [] and substring_index.drift() == 0
