"""Tests never reach a hosted API: specs that would are refused here."""

import os

import pytest

os.environ["DEBATELAB_BLOCK_HOSTED"] = "1"
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("ANTHROPIC_API_KEY", None)


@pytest.fixture
def mock_server():
    from debate.testing import MockServer

    with MockServer() as server:
        yield server
