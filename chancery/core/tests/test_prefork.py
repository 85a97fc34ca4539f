"""`chancery serve` builds what its workers share before forking them, then freezes it out of the
garbage collector's walks (`chancery.core.prefork`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.template import engines
from django.test import override_settings

from chancery.core.prefork import compile_templates, prepare_for_fork


def _cached(name: str) -> bool:
    """Whether the cached loader of the Django engine holds `name` compiled."""
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return any(
        getattr(template, "origin", None) is not None and template.origin.template_name == name
        for loader in engine.template_loaders
        for template in getattr(loader, "get_template_cache", {}).values()
    )


@pytest.fixture
def fresh_templates() -> Iterator[None]:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    for loader in engine.template_loaders:
        if hasattr(loader, "reset"):
            loader.reset()
    yield
    for loader in engine.template_loaders:
        if hasattr(loader, "reset"):
            loader.reset()


def test_every_template_is_compiled_before_any_request(fresh_templates: None) -> None:
    assert not _cached("core/home.html")
    count = compile_templates()
    assert count >= 50  # the project's and the installed apps' templates
    for name in ("core/home.html", "planning/programme_detail.html", "correspondence/detail.html"):
        assert _cached(name), name


def test_a_template_that_does_not_compile_is_left_to_fail_where_it_is_used(
    tmp_path: Path, settings: object, fresh_templates: None
) -> None:
    (tmp_path / "broken.html").write_text("{% if %}", encoding="utf-8")
    (tmp_path / "fine.html").write_text("{{ value }}", encoding="utf-8")
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe\x00")
    templates = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(tmp_path)],
            "OPTIONS": {
                "loaders": [("django.template.loaders.cached.Loader", ["django.template.loaders.filesystem.Loader"])]
            },
        }
    ]
    with override_settings(TEMPLATES=templates):  # Django rebuilds the engines from it, and after
        assert compile_templates() == 1
        assert _cached("fine.html")


def test_what_exists_before_the_fork_is_frozen() -> None:
    gc.unfreeze()
    try:
        prepare_for_fork()
        assert gc.get_freeze_count() > 10_000  # Django, the URL map, the API's schemas, the templates
        # What a request creates afterwards is all the collector still walks.
        assert len(gc.get_objects()) < gc.get_freeze_count() / 4
    finally:
        gc.unfreeze()
