"""Tests never reach a hosted API: specs that would are refused here."""

import os

import pytest

os.environ["DEBATELAB_BLOCK_HOSTED"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"  # datasets never download in tests
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("ANTHROPIC_API_KEY", None)
for _tracing in ("LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2",
                 "LANGCHAIN_TRACING"):  # no traces to LangSmith (test_graph_runtime fakes it)
    os.environ.pop(_tracing, None)


@pytest.fixture
def mock_server():
    from debate.testing import MockServer

    with MockServer() as server:
        yield server
