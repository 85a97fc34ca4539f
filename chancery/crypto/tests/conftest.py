from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings


@pytest.fixture(autouse=True)
def data_dir(settings: Settings, tmp_path: Path) -> Path:
    """A fresh, private data dir per test, with file KEKs (no master key) by default."""
    path = tmp_path / "data"
    path.mkdir()
    settings.CHANCERY_DATA_DIR = path
    settings.CHANCERY_MASTER_KEY = None
    return path


@pytest.fixture
def master_key(settings: Settings) -> str:
    value = base64.b64encode(os.urandom(32)).decode()
    settings.CHANCERY_MASTER_KEY = value
    return value
