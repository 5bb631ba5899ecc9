from __future__ import annotations

import pytest

from simlab.testing import make_tiny_bert  # noqa: F401  (re-exported for tests that load this file by path)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_bert_no_pooler(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert-nopool"), with_pooler=False)
