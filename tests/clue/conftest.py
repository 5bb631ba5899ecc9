"""Shared fixtures for the CLUE tests: the fixture data folder (official fields, invented rows) and a tiny BERT."""

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "data"


@pytest.fixture
def clue_data() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    from simlab.testing import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert") / "model", with_pooler=False)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_bert):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_bert))
    assert tok.is_fast
    return tok
