"""`chancery bench import-accuracy` counts right, wrong, missed and invented fields as it says."""

from __future__ import annotations

import json
import shutil
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from .test_letter_corpus import LETTERS_DIR


def _bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:
    monkeypatch.setenv("CHANCERY_BENCH_RESULTS", str(tmp_path / "results"))
    call_command("bench", "import-accuracy", *args, stdout=StringIO())
    assert (tmp_path / "results" / "import-accuracy.md").read_text(encoding="utf-8").startswith("# Letter import")
    record: dict[str, Any] = json.loads((tmp_path / "results" / "import-accuracy.json").read_text(encoding="utf-8"))
    return record


def test_the_corpus_meets_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _bench(tmp_path, monkeypatch, "--variations", "1")
    assert record["letters"] >= 70 and record["variations"] == len(list(LETTERS_DIR.glob("*.txt")))
    assert set(record["by_language"]) == {"fr", "en", "es", "ar"}
    assert record["overall"]["invented"] == 0 and record["overall"]["right_share"] >= 0.98
    assert record["target_met"] is True


def test_mistakes_are_counted_by_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Expected records altered on purpose: each alteration shows as the mistake it is."""
    folder = tmp_path / "letters"
    folder.mkdir()
    name = "fr-02-nref-vref-expediteur"
    shutil.copy(LETTERS_DIR / f"{name}.txt", folder / f"{name}.txt")
    wanted = json.loads((LETTERS_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
    wanted["dispatch"]["place"] = "Zinder"  # the letter says Niamey: wrong
    wanted["dispatch"]["reference"] = None  # the letter gives one: read, so "invented" against this record
    wanted["dispatch"]["attachments"] = []
    wanted["programme"] = {"year": 2025, "axes": ["political"], "indicators": []}  # not a plan: missed
    (folder / f"{name}.expected.json").write_text(json.dumps(wanted), encoding="utf-8")
    record = _bench(tmp_path, monkeypatch, "--letters", str(folder), "--variations", "0")
    outcomes = {(m["field"], m["outcome"]) for m in record["mistakes"]}
    assert outcomes == {
        ("place", "wrong"), ("reference", "invented"), ("attachments", "invented"), ("programme", "missed"),
        ("programme.year", "missed"), ("programme.axes", "missed"),
    }
    overall = record["overall"]
    assert (overall["wrong"], overall["invented"], overall["missed"]) == (1, 2, 3)
    assert overall["total"] == 14 and overall["right"] == 8 and record["target_met"] is False
    # 8 right, of which 1 absent on both sides (indicators): 7 correct readings; made: 7 + 1 wrong + 2 invented;
    # given by the letters (as the record says): 7 + 1 wrong + 3 missed
    assert overall["precision"] == round(7 / 10, 4) and overall["recall"] == round(7 / 11, 4)
