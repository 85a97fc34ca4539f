from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    """Pages in English (the source language), whatever catalogues exist for the default French."""
    settings.LANGUAGE_CODE = "en"
