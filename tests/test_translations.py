"""The translation catalogues: complete, reviewed (no fuzzy entry), placeholders intact, up to date.

Source strings are English; French (the default), Arabic and Spanish must translate every one.
When this fails after adding strings: run ``scripts/make_messages.sh``, translate the empty and
fuzzy entries of chancery/locale/{fr,ar,es}/LC_MESSAGES/django.po, then ``make messages``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import polib
import pytest
from django.test import override_settings
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "chancery" / "locale"
TRANSLATED = ("fr", "ar", "es")
LANGUAGES = (*TRANSLATED, "en")
PLURAL_FORMS = {"fr": 2, "es": 3, "ar": 6}
# %(name)s, %(count)d, %s, %d, %.1f … and {name} / {0} (str.format); %% is a literal percent.
PERCENT = re.compile(r"%(?:\((?P<name>[^)]+)\))?[#0 +-]*\d*(?:\.\d+)?(?P<conv>[diouxXeEfFgGcrsa])")
BRACES = re.compile(r"(?<!\{)\{(?P<field>[A-Za-z_][A-Za-z0-9_]*|\d*)(?:![rsa])?(?::[^{}]*)?\}(?!\})")


def _catalogue(language: str) -> polib.POFile:
    path = LOCALE / language / "LC_MESSAGES" / "django.po"
    assert path.exists(), f"{path} is missing: run scripts/make_messages.sh"
    return polib.pofile(str(path))


def _entries(language: str) -> list[polib.POEntry]:
    return [entry for entry in _catalogue(language) if not entry.obsolete]


def _placeholders(text: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for match in PERCENT.finditer(text.replace("%%", "")):
        found[f"%({match['name']}){match['conv']}" if match["name"] else f"%{match['conv']}"] += 1
    for match in BRACES.finditer(text):
        found["{" + match["field"] + "}"] += 1
    return found


def _label(entry: polib.POEntry) -> str:
    where = f" ({entry.occurrences[0][0]})" if entry.occurrences else ""
    return f"{entry.msgid!r}{where}"


def test_the_catalogues_exist_and_hold_the_interface() -> None:
    for language in LANGUAGES:
        entries = _entries(language)
        assert len(entries) > 100, f"{language}: only {len(entries)} strings"
        msgids = {entry.msgid for entry in entries}
        assert {"Sign in", "Skip to content", "Language"} <= msgids, language


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_is_translated_and_reviewed(language: str) -> None:
    problems = []
    for entry in _entries(language):
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy (review it, then remove the flag): {_label(entry)}")
        elif entry.msgid_plural:
            forms = [entry.msgstr_plural.get(i, "") for i in range(PLURAL_FORMS[language])]
            if not all(form.strip() for form in forms):
                problems.append(f"plural forms missing: {_label(entry)}")
        elif not entry.msgstr.strip():
            problems.append(f"untranslated: {_label(entry)}")
    assert not problems, f"{language}: {len(problems)} string(s) to translate\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_are_kept(language: str) -> None:
    problems = []
    for entry in _entries(language):
        if entry.msgid_plural:
            wanted_singular = _placeholders(entry.msgid)
            wanted_plural = _placeholders(entry.msgid_plural)
            allowed = set(wanted_singular) | set(wanted_plural)
            positional = any(not p.startswith(("%(", "{")) or p in ("{}",) for p in allowed)
            forms = [text for _index, text in sorted(entry.msgstr_plural.items()) if text]
            for index, text in enumerate(forms):
                got = _placeholders(text)
                if set(got) - allowed:
                    problems.append(f"form {index} adds {sorted(set(got) - allowed)}: {_label(entry)}")
                # Named placeholders may be left out of a form ("one second"); positional ones may not.
                if positional and got != (wanted_singular if index == 0 else wanted_plural):
                    problems.append(f"form {index} changes positional placeholders: {_label(entry)}")
            if forms and _placeholders(forms[-1]) != wanted_plural:
                problems.append(f"the general plural form must keep {sorted(wanted_plural)}: {_label(entry)}")
        elif entry.msgstr:
            wanted, got = _placeholders(entry.msgid), _placeholders(entry.msgstr)
            if wanted != got:
                problems.append(f"placeholders {sorted(wanted.elements())} became {sorted(got.elements())}: "
                                f"{_label(entry)} -> {entry.msgstr!r}")
    assert not problems, f"{language}:\n" + "\n".join(problems)


def test_the_translations_are_used(tmp_path: Path) -> None:
    """Compiled as `make messages` does, Django serves them (right-to-left for Arabic)."""
    for language in LANGUAGES:
        target = tmp_path / language / "LC_MESSAGES"
        target.mkdir(parents=True)
        _catalogue(language).save_as_mofile(str(target / "django.mo"))
    with override_settings(LOCALE_PATHS=[tmp_path]):
        expected = {"fr": "Se connecter", "es": "Iniciar sesión", "ar": "تسجيل الدخول", "en": "Sign in"}
        for language, text in expected.items():
            with translation.override(language):
                assert translation.gettext("Sign in") == text
        with translation.override("ar"):
            assert translation.get_language_bidi()
            # Arabic has six plural forms: 5 takes the "few" form (the catalogue header must carry them).
            singular = "Too many failed attempts. Try again in %(seconds)d second."
            plural = "Too many failed attempts. Try again in %(seconds)d seconds."
            five = translation.ngettext(singular, plural, 5) % {"seconds": 5}
            assert five == "محاولات فاشلة كثيرة. أعد المحاولة بعد 5 ثوانٍ."
            assert "ثانيتين" in translation.ngettext(singular, plural, 2)


def test_the_catalogues_are_up_to_date_with_the_sources(tmp_path: Path) -> None:
    """Re-extract the strings from a copy of the sources: none may be missing from the catalogues."""
    if not (shutil.which("xgettext") and shutil.which("msgmerge")):
        pytest.skip("GNU gettext is not installed: cannot re-extract the strings (apt-get install gettext)")
    copy = tmp_path / "chancery"
    shutil.copytree(
        ROOT / "chancery", copy,
        ignore=shutil.ignore_patterns("static", "migrations", "__pycache__", "*.mo", "tests"),
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "chancery.settings", "CHANCERY_DATA_DIR": str(tmp_path / "data")}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--locale", "fr", "--domain", "django",
         "--extension", "html,txt,py", "--ignore", "*/tests/*", "--no-obsolete", "-v", "0"],
        cwd=copy, env=env, check=True, capture_output=True, timeout=120,
    )
    extracted = {(e.msgctxt, e.msgid) for e in polib.pofile(str(copy / "locale" / "fr" / "LC_MESSAGES" / "django.po"))
                 if not e.obsolete}
    for language in LANGUAGES:
        known = {(e.msgctxt, e.msgid) for e in _entries(language)}
        missing = sorted(msgid for _ctx, msgid in extracted - known)
        assert not missing, (
            f"{language}: {len(missing)} string(s) not in the catalogue; run scripts/make_messages.sh and "
            "translate them:\n" + "\n".join(repr(m) for m in missing[:50])
        )
