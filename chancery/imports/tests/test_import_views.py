"""The import screens through the test client: upload → preview → correct → confirm → records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chancery.correspondence.models import Dispatch, Routing
from chancery.imports.forms import PreviewForm
from chancery.imports.matching import UnitDirectory
from chancery.imports.models import ImportStatus, LetterImport
from chancery.imports.services import load_preview
from chancery.planning.models import Axis, Indicator
from conftest import sign_in

from .conftest import SAMPLES_DIR, dispatch_of, programme_of

if TYPE_CHECKING:
    from chancery.accounts.models import User

pytestmark = pytest.mark.django_db

UPLOAD = "/imports/letters/"


def _file(name: str, data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else (SAMPLES_DIR / name).read_bytes())


def _form_data(user: User, row: LetterImport) -> dict[str, Any]:
    """What the preview page's form submits untouched (its initial values)."""
    form = PreviewForm(preview=load_preview(actor=user, letter_import=row), directory=UnitDirectory.load())
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    return data


@pytest.fixture
def client(importer: Any) -> Client:
    return sign_in(Client(), importer)


def _upload(client: Client, name: str, data: bytes | None = None) -> Any:
    return client.post(UPLOAD, {"file": _file(name, data)})


def test_upload_correct_confirm(client: Client, importer: Any, ministry: Any) -> None:
    page = client.get(UPLOAD)
    assert page.status_code == 200 and b'type="file"' in page.content

    response = _upload(client, "fr-plan-2022-dakar.txt")
    row = LetterImport.objects.unrestricted("test").get()
    assert response.status_code == 302 and response["Location"] == f"/imports/letters/{row.pk}/"
    assert row.status == ImportStatus.PREVIEWED and row.pending_ciphertext is not None
    assert Dispatch.objects.unrestricted("test").count() == 0  # nothing saved before confirmation
    assert b"Dakar" not in bytes(row.pending_ciphertext)  # kept encrypted meanwhile

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    # every field beside its source line, the unclear one marked, the letter's lines numbered
    assert 'value="Programme d&#x27;actions de l&#x27;Ambassade au titre de l&#x27;année 2022"' in html
    assert 'name="dated" value="2021-09-14"' in html  # ISO, as a date input needs
    assert 'href="#src-6"' in html and 'id="src-6"' in html  # Référence : /2021 (line 6)
    assert "looks incomplete" in html or "incomplet" in html
    assert "import-field-unclear" in html and "import-field-found" in html
    assert 'class="src-field"' in html and "Volet économique" in html
    assert "marking-banner" in html

    data = _form_data(importer, row)
    assert data["route_0"] == "DAB/2" and data["route_1"] == "DG3/1" and data["route_2"] == "DCP/5"
    assert data["mission"] == "DAKAR" and data["create_programme"] == "on"
    data["subject"] = "Programme d'actions 2022 de l'Ambassade à Dakar"  # the agent's correction
    data["external_reference"] = "DAKAR/2021/0412"
    data["route_2"] = ""  # no copy to the press office
    data["add_info"] = "DG7/6"
    response = client.post(f"/imports/letters/{row.pk}/", data)
    assert response.status_code == 302, response.content.decode()[:3000]

    row.refresh_from_db()
    dispatch = dispatch_of(row)
    assert response["Location"] == f"/correspondence/dispatches/{dispatch.pk}/"
    assert row.status == ImportStatus.IMPORTED and row.pending_ciphertext is None
    assert dispatch.subject == "Programme d'actions 2022 de l'Ambassade à Dakar"
    assert dispatch.external_reference == "DAKAR/2021/0412"
    routings = {(r.unit.code, r.kind) for r in Routing.objects.filter(dispatch=dispatch).select_related("unit")}
    assert routings == {("DAB/2", "action"), ("DG3/1", "info"), ("DG7/6", "info")}
    programme = programme_of(row)
    assert programme.mission.code == "DAKAR" and programme.year == 2022
    assert Axis.objects.unrestricted("test").filter(programme=programme).count() == 4
    assert Indicator.objects.unrestricted("test").filter(programme=programme).count() == 1

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and dispatch.reference in html
    # The registry may not read plans: the message names the draft programme without a link
    # (a link would only lead to a 404); the mission's desk reads it.
    assert f"/planning/{programme.pk}/" not in html and "DAKAR" in html and "2022" in html
    desk = Client()
    sign_in(desk, ministry.users["desk.dab1"])
    assert desk.get(f"/planning/{programme.pk}/").status_code == 200

    # Re-import of the same file: reported, nothing new.
    response = _upload(client, "fr-plan-2022-dakar.txt")
    assert response.status_code == 302 and response["Location"] == UPLOAD
    page = client.get(UPLOAD)
    assert dispatch.reference in page.content.decode()
    assert LetterImport.objects.unrestricted("test").count() == 1
    # The imported row now leads to its dispatch.
    assert client.get(f"/imports/letters/{row.pk}/")["Location"] == f"/correspondence/dispatches/{dispatch.pk}/"


def test_fuzzy_matches_are_offered_never_chosen(client: Client, importer: Any) -> None:
    _upload(client, "fr-plan-2025-abidjan.txt")
    row = LetterImport.objects.unrestricted("test").get()
    html = client.get(f"/imports/letters/{row.pk}/").content.decode()
    select = html[html.index('name="route_0"'):]
    select = select[: select.index("</select>")]
    assert "Suggestions" in select or "Suggestion" in select
    assert 'value="DAB/1"' in select and " selected" not in select.split("</optgroup>")[0].split("<optgroup")[1]
    data = _form_data(importer, row)
    assert data.get("route_0", "") == ""  # DAO/1: not preselected
    # Confirming without a unit for action is refused with a clear message; nothing saved.
    data.pop("route_0", None)
    response = client.post(f"/imports/letters/{row.pk}/", data)
    assert response.status_code == 200
    assert Dispatch.objects.unrestricted("test").count() == 0
    assert "invalid-feedback" in response.content.decode() or "alert-danger" in response.content.decode()
    # Choosing the suggestion imports it, with the multi-year programme.
    data["route_0"] = "DAB/1"
    response = client.post(f"/imports/letters/{row.pk}/", data)
    assert response.status_code == 302
    row.refresh_from_db()
    programme = programme_of(row)
    assert (programme.mission.code, programme.year, programme.end_year) == ("ABIDJAN", 2025, 2027)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("garbage.txt", bytes(range(256)) * 40, "readable text"),
        ("prose.txt", b"Bonjour,\n\nQuelques nouvelles.\n", "header"),
    ],
)
def test_bad_uploads_give_a_clear_message(client: Client, name: str, data: bytes, message: str) -> None:
    response = client.post(UPLOAD, {"file": _file(name, data)}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert "invalid-feedback" in html
    if data:
        assert message in html
    assert LetterImport.objects.unrestricted("test").count() == 0


def test_discard_and_scope(client: Client, importer: Any, ministry: Any) -> None:
    _upload(client, "fr-plan-2022-dakar.txt")
    row = LetterImport.objects.unrestricted("test").get()
    other = sign_in(Client(), ministry.users["clerk2.sgbo"])  # another registry clerk
    assert other.get(f"/imports/letters/{row.pk}/").status_code == 404
    assert other.post(f"/imports/letters/{row.pk}/discard/").status_code == 404
    assert sign_in(Client(), ministry.users["hom.dakar"]).get(UPLOAD).status_code == 404  # not a registry agent
    response = client.post(f"/imports/letters/{row.pk}/discard/")
    assert response.status_code == 302
    assert LetterImport.objects.unrestricted("test").count() == 0


def test_previews_left_unconfirmed_expire(client: Client, importer: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    _upload(client, "fr-plan-2022-dakar.txt")
    LetterImport.objects.unrestricted("test").update(created_at=timezone.now() - dt.timedelta(days=8))
    _upload(client, "en-cable-2023-ottawa.txt")  # any new upload of the agent forgets the stale ones
    assert [r.filename for r in LetterImport.objects.unrestricted("test")] == ["en-cable-2023-ottawa.txt"]


def test_letter_above_the_agents_clearance_is_not_shown(ministry: Any) -> None:
    clerk = sign_in(Client(), ministry.users["clerk.sgbo"])  # cleared Diffusion restreinte
    response = clerk.post(UPLOAD, {"file": _file("en-cable-2023-ottawa.txt")})
    assert response.status_code == 200
    html = response.content.decode()
    assert "invalid-feedback" in html and "Action plan of the Embassy" not in html
    assert LetterImport.objects.unrestricted("test").count() == 0
