import os
from pathlib import Path

import pytest


@pytest.fixture
def data_root():
    """The shared data folder, or skip (CI has it beside the clone)."""
    raw = os.environ.get("SIMLAB_DATA")
    if not raw or not Path(raw).is_dir():
        pytest.skip("SIMLAB_DATA not set / missing")
    return Path(raw)
