"""Texts of protected programmes are sealed at rest (`chancery.planning.sealed`)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from chancery.core.classification import Level
from chancery.crypto import services as crypto_services
from chancery.crypto.exceptions import DecryptionError
from chancery.crypto.models import DataKey
from chancery.planning import demo, sealed, selectors, services
from chancery.planning.models import (
    Action,
    Axis,
    Indicator,
    Objective,
    Programme,
    ProgrammeVersion,
    VersionKind,
)

_u = "test: the raw columns"


def _programme(ministry: Any, *, protected: bool) -> Programme:
    user = ministry.users["hom.dakar"]
    programme = demo.sample_programme(
        mission=ministry.units["DAKAR"], year=timezone.localdate().year + 1, user=user, actions_per_axis=1, indicators=1
    )
    services.update_programme(user=user, programme=programme, summary="Médiation discrète entre factions rivales")
    ProgrammeVersion.objects.create(programme=programme, number=99, kind=VersionKind.REVISION, reason="Raison",
                                    snapshot={"title": "Instantané confidentiel"})
    if protected:
        services.update_programme(user=user, programme=programme, classification=Level.RESTRICTED)
    return Programme.objects.unrestricted("test").get(pk=programme.pk)


def _columns(model: Any, **lookup: Any) -> list[tuple[Any, ...]]:
    fields = [model._meta.get_field(name).attname for name in model.sealed_fields]
    return list(model.objects.unrestricted(_u).filter(**lookup).values_list(*fields, "sealed_texts"))


def test_raising_the_marking_seals_every_text_of_the_programme_and_readers_get_them_back(ministry: Any) -> None:
    programme = _programme(ministry, protected=False)
    assert _columns(Programme, pk=programme.pk)[0][1] == "Médiation discrète entre factions rivales"
    assert all(row[-1] is None for row in _columns(Action, programme=programme))
    titles = sorted(a.title for a in Action.objects.unrestricted(_u).filter(programme=programme))

    services.update_programme(user=ministry.users["hom.dakar"], programme=programme, classification=Level.RESTRICTED)

    for model in sealed.sealed_models():
        path = model.programme_path.replace(".", "__")
        rows = _columns(model, **({path: programme.pk} if path else {"pk": programme.pk}))
        for *texts, blob in rows:
            assert blob is not None and all(text in ("", {}) for text in texts), (model, texts)
    assert len(_columns(Objective, axis__programme=programme)) >= 1
    user = ministry.users["plan.sg4"]
    assert selectors.programme_detail(user, programme.pk).summary == "Médiation discrète entre factions rivales"
    assert sorted(a.title for a in selectors.action_list(user, {"programme": programme.pk})) == titles
    version = ProgrammeVersion.objects.unrestricted(_u).get(programme=programme, number=99)
    assert version.snapshot == {"title": "Instantané confidentiel"} and version.reason == "Raison"


def test_new_rows_of_a_protected_programme_never_hold_clear_text(ministry: Any) -> None:
    programme = _programme(ministry, protected=True)
    user = ministry.users["hom.dakar"]
    axis = Axis.objects.unrestricted(_u).filter(programme=programme).first()
    assert axis is not None
    action = services.create_action(user=user, programme=programme, axis=axis, title="Émissaire officieux",
                                    description="Rencontre secrète", lead=user)
    assert _columns(Action, pk=action.pk)[0][:3] == ("", "", "")
    fresh = Action.objects.unrestricted(_u).get(pk=action.pk)
    assert (fresh.title, fresh.description) == ("Émissaire officieux", "Rencontre secrète")
    fresh.title = "Émissaire renvoyé"
    fresh.save(update_fields=["title"])
    again = Action.objects.unrestricted(_u).get(pk=action.pk)
    assert (again.title, again.description) == ("Émissaire renvoyé", "Rencontre secrète")
    assert _columns(Action, pk=action.pk)[0][0] == ""


def test_lowering_the_marking_leaves_texts_sealed_until_they_are_written_again(ministry: Any) -> None:
    programme = _programme(ministry, protected=True)
    user = ministry.users["hom.dakar"]
    services.update_programme(user=user, programme=programme, classification=Level.UNCLASSIFIED)
    action = Action.objects.unrestricted(_u).filter(programme=programme).first()
    assert action is not None and _columns(Action, pk=action.pk)[0][-1] is not None
    title = action.title
    assert title
    action.save()  # written again while the programme is unprotected: in clear
    assert _columns(Action, pk=action.pk)[0][0] == title and _columns(Action, pk=action.pk)[0][-1] is None


def test_a_sealed_text_copied_onto_another_row_does_not_open(ministry: Any) -> None:
    programme = _programme(ministry, protected=True)
    first, second = Action.objects.unrestricted(_u).filter(programme=programme).order_by("pk")[:2]
    Action.objects.unrestricted(_u).filter(pk=second.pk).update(sealed_texts=_columns(Action, pk=first.pk)[0][-1])
    with pytest.raises(DecryptionError):
        _ = Action.objects.unrestricted(_u).get(pk=second.pk).title


def test_a_word_of_a_sealed_title_is_found_by_the_list_filters(ministry: Any) -> None:
    programme = _programme(ministry, protected=True)
    user = ministry.users["plan.sg4"]
    action = Action.objects.unrestricted(_u).filter(programme=programme).first()
    assert action is not None
    word = action.title.split()[0]
    assert action.pk in {a.pk for a in selectors.action_list(user, {"q": word.upper()})}
    assert programme.pk in {p.pk for p in selectors.programme_list(user, {"q": programme.title.split()[-1]})}
    assert not selectors.action_list(user, {"q": "zzqx-absent"}).exists()


def test_a_page_unwraps_each_programme_key_once(ministry: Any, client_for: Any, monkeypatch: Any) -> None:
    programme = _programme(ministry, protected=True)
    calls: list[int] = []
    real = crypto_services.unwrap

    def counting(*, data_key: DataKey) -> bytes:
        calls.append(1)
        return real(data_key=data_key)

    monkeypatch.setattr(crypto_services, "unwrap", counting)
    response = client_for("plan.sg4").get(f"/planning/{programme.pk}/")
    assert response.status_code == 200
    assert len(calls) == 1  # the page shows every action, objective and indicator of the programme
    action = Action.objects.unrestricted(_u).filter(programme=programme).first()
    assert action is not None and action.title in response.content.decode()


def test_sealed_texts_still_open_after_rotate_keys(ministry: Any) -> None:
    programme = _programme(ministry, protected=True)
    key_id = programme.data_key_id
    assert key_id is not None
    before = DataKey.objects.get(pk=key_id).kek_id
    report = crypto_services.rotate_keys()
    assert DataKey.objects.get(pk=key_id).kek_id == report.target_kek_id != before
    with sealed.key_scope():
        again = Programme.objects.unrestricted(_u).get(pk=programme.pk)
        assert again.summary == "Médiation discrète entre factions rivales"
        assert all(i.label for i in Indicator.objects.unrestricted(_u).filter(programme=programme))


def test_the_data_migration_seals_existing_protected_rows_and_reverses(ministry: Any) -> None:
    migration = importlib.import_module("chancery.planning.migrations.0008_seal_protected_texts")
    programme = _programme(ministry, protected=False)
    other = Programme.objects.unrestricted(_u).exclude(pk=programme.pk).first()
    Programme.objects.unrestricted(_u).filter(pk=programme.pk).update(classification=Level.RESTRICTED)  # as of old
    titles = sorted(a.title for a in Action.objects.unrestricted(_u).filter(programme=programme))

    migration.seal_existing(apps, None)

    assert all(row[0] == "" and row[-1] is not None for row in _columns(Action, programme=programme))
    assert _columns(Programme, pk=programme.pk)[0][1] == ""
    assert sorted(a.title for a in Action.objects.unrestricted(_u).filter(programme=programme)) == titles
    assert other is None or _columns(Programme, pk=other.pk)[0][-1] is None
    migration.unseal_all(apps, None)
    assert sorted(row[0] for row in _columns(Action, programme=programme)) == titles
    assert _columns(Programme, pk=programme.pk)[0][1] == "Médiation discrète entre factions rivales"
