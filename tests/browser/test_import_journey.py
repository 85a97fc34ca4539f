"""Importing a letter in a real browser: upload the Dakar plan, check the preview beside the letter,
correct a field, confirm, then see the registered dispatch and the draft programme."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import DEMO_PASSWORD, axe_scan, format_violations, login, page_errors, screenshot, serious

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[2] / "chancery/imports/tests/samples/letters/fr-plan-2022-dakar.txt"
USERNAME = "import.clerk"
CORRECTED = "Programme d'actions 2022 de l'Ambassade à Dakar"


def _registry_clerk(ministry: Any) -> None:
    """A central-registry clerk (cleared Diffusion restreinte: no second factor needed), with no
    membership in the mission: the registry opens the letter's draft programme on its behalf."""
    from chancery.accounts.roles import Role
    from chancery.accounts.services import create_user
    from chancery.core.classification import Level

    create_user(
        actor=None, username=USERNAME, password=DEMO_PASSWORD, first_name="Ines", last_name="Registre",
        clearance_level=Level.RESTRICTED, memberships=[(ministry.units["SG/BO"], Role.REGISTRY_CLERK)],
        validate_password=False,
    )


def test_import_journey(browser: Browser, page: Page, live_server: Any, fresh_ministry: Any) -> None:
    from chancery.correspondence.models import Dispatch
    from chancery.imports.models import LetterImport

    base = live_server.url
    _registry_clerk(fresh_ministry)
    login(page, base, USERNAME)

    # 1. Upload the letter.
    page.goto(f"{base}/imports/letters/")
    page.set_input_files("#id_file", str(SAMPLE))
    with page.expect_navigation():
        page.locator("form.import-upload button[type=submit]").click()
    assert re.search(r"/imports/letters/\d+/$", page.url), page.url
    assert Dispatch.objects.unrestricted("test").count() == 0  # nothing saved yet

    # 2. The preview: each field beside the letter, the unclear reference marked, its line highlighted.
    assert page.locator("#id_subject").input_value() == "Programme d'actions de l'Ambassade au titre de l'année 2022"
    assert page.locator("#id_route_0").input_value() == "DAB/2"
    assert page.locator("#id_route_2").input_value() == "DCP/5"
    assert page.locator("#id_mission").input_value() == "DAKAR"
    assert page.locator("#id_dated").input_value() == "2021-09-14"
    reference_row = page.locator(".import-field", has=page.locator("#id_external_reference"))
    assert reference_row.locator(".import-field-unclear").count() == 1
    reference_row.locator("a.source-link").click()
    assert page.evaluate("() => location.hash") == "#src-6"
    highlighted = page.locator("#src-6")
    assert "Référence" in highlighted.inner_text()
    assert page.evaluate("() => document.querySelector('#src-6').matches(':target')")
    assert page.locator(".import-lines li.src-field").count() >= 9
    assert page.locator(".import-axes li").count() == 4
    violations = serious(axe_scan(page))
    assert not violations, format_violations(violations, where="import preview: ")
    screenshot(page, "import-1-preview")

    # 3. Correct the subject and confirm.
    page.fill("#id_subject", CORRECTED)
    page.locator("form.import-form button[name=confirm]").click()
    page.wait_for_url(re.compile(r".*/correspondence/dispatches/\d+/$"))
    row = LetterImport.objects.unrestricted("test").get()
    dispatch = Dispatch.objects.unrestricted("test").get(pk=row.dispatch_id)
    page.locator("#main h1, #main").filter(has_text=CORRECTED).first.wait_for()
    main = page.locator("#main").inner_text()
    assert dispatch.reference in main and CORRECTED in main
    assert str(dispatch.dated) == "2021-09-14" and dispatch.place == "Dakar"
    assert "DAB/2" in main and "DCP/5" in main
    screenshot(page, "import-2-dispatch")

    # 4. The registry opened the draft programme on the mission's behalf; it cannot read plans,
    #    so the message names it without a link. The mission's headquarters desk reads it.
    assert "DAKAR" in page.locator("#main .messages").inner_text()
    assert not page.locator(f"#main .messages a[href='/planning/{row.programme_id}/']").count()
    desk = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900}).new_page()
    login(desk, base, "desk.dab1")
    desk.goto(f"{base}/planning/{row.programme_id}/")
    desk.locator("#main").filter(has_text="2022").first.wait_for()
    main = desk.locator("#main").inner_text()
    assert "DAKAR" in main or "Dakar" in main
    for axis in ("Politique", "Économique", "Culturel", "Communication"):
        assert axis in main, axis
    screenshot(desk, "import-3-programme")
    assert not [e for e in page_errors(page) if "Content Security Policy" in e], page_errors(page)


UNSURE = Path(__file__).resolve().parents[2] / "chancery/imports/tests/letters/fr-17-signature-consulat.txt"


def test_preview_says_how_sure_each_field_is(
    browser: Browser, page: Page, live_server: Any, fresh_ministry: Any
) -> None:
    """A consulate's letter: its place is read from the signature and its plan from "the actions for the year".
    Each field shows how sure the reading is and the line it was read from; the unsure ones are marked for the
    clerk, here and in the letter beside."""
    base = live_server.url
    _registry_clerk(fresh_ministry)
    login(page, base, USERNAME)
    page.goto(f"{base}/imports/letters/")
    page.set_input_files("#id_file", str(UNSURE))
    with page.expect_navigation():
        page.locator("form.import-upload button[type=submit]").click()

    # The place: read under the signature, so marked to check, with the line it came from.
    place_row = page.locator(".import-field", has=page.locator("#id_place"))
    assert page.locator("#id_place").input_value() == "Bordeaux"
    assert "import-field-low" in (place_row.get_attribute("class") or "")
    badge = place_row.locator(".import-confidence")
    assert badge.count() == 1 and "import-confidence-low" in (badge.get_attribute("class") or "")
    assert "65" in badge.inner_text()
    assert place_row.locator(".import-source-text q").inner_text() == "Consulat général à Bordeaux"
    place_row.locator("a.source-link").click()
    signature = page.locator("#src-24")
    assert page.evaluate("() => location.hash") == "#src-24"
    assert "Consulat général à Bordeaux" in signature.inner_text()
    assert "src-check" in (signature.get_attribute("class") or "")

    # The reference: a named field, read with confidence, not marked.
    reference_row = page.locator(".import-field", has=page.locator("#id_external_reference"))
    assert "95" in reference_row.locator(".import-confidence").inner_text()
    assert not reference_row.locator(".import-confidence-low").count()
    assert reference_row.locator(".import-source-text q").inner_text() == "Référence : CGB/2024/0420"
    assert "import-field-low" not in (reference_row.get_attribute("class") or "")

    # The draft programme: read as a plan from "Actions … pour l'année 2025", less surely than a "programme".
    fields = page.locator(".import-programme-fields li")
    assert fields.count() == 4
    assert "75" in fields.nth(0).locator(".import-confidence").inner_text()
    assert "Actions du Consulat général pour l'année 2025" in fields.nth(0).inner_text()
    assert page.locator(".import-axes li").count() == 2

    violations = serious(axe_scan(page))
    assert not violations, format_violations(violations, where="import preview (confidence): ")
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "import-4-confidence")
    assert not [e for e in page_errors(page) if "Content Security Policy" in e], page_errors(page)


ARABIC = Path(__file__).resolve().parents[2] / "chancery/imports/tests/letters/ar-01-plan.txt"


def test_arabic_letter_in_the_arabic_interface(
    browser: Browser, page: Page, live_server: Any, fresh_ministry: Any
) -> None:
    """An Arabic letter checked in the Arabic (right-to-left) interface: every header field read, with how sure
    and the line it came from."""
    base = live_server.url
    _registry_clerk(fresh_ministry)
    login(page, base, USERNAME)
    page.select_option("#language-select", "ar")
    with page.expect_navigation():
        page.locator("footer form button[type=submit]").click()
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.goto(f"{base}/imports/letters/")
    page.set_input_files("#id_file", str(ARABIC))
    with page.expect_navigation():
        page.locator("form.import-upload button[type=submit]").click()
    assert page.locator("#id_place").input_value() == "الرباط"
    assert page.locator("#id_dated").input_value() == "2024-11-12"
    assert page.locator("#id_subject").input_value() == "برنامج عمل السفارة لسنة 2025"
    assert page.locator("#id_external_reference").input_value() == "RBT/2024/0812"
    subject_row = page.locator(".import-field", has=page.locator("#id_subject"))
    assert subject_row.locator(".import-source-text q").inner_text() == "الموضوع: برنامج عمل السفارة لسنة 2025"
    assert "95" in subject_row.locator(".import-confidence").inner_text()
    assert page.locator(".import-axes li").count() == 3
    assert page.locator(".import-field-low").count() == 0  # nothing here is unsure
    violations = serious(axe_scan(page))
    assert not violations, format_violations(violations, where="import preview (Arabic): ")
    screenshot(page, "import-5-arabic")
