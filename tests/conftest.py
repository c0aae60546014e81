"""Tests never reach a hosted API, and leave nothing open.

Specs that would reach a hosted API are refused here. Resources left open
fail the test that leaked them: ``ResourceWarning`` and unraisable exceptions
(warnings raised by ``__del__``, as aiohttp's "Unclosed client session" is)
are errors (``filterwarnings`` in pyproject.toml), and so is an "Unclosed ..."
report through asyncio's logger, which aiohttp also sends its reports to.
"""

import logging
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


class _UnclosedReports(logging.Handler):
    """Keeps asyncio's log records that report an unclosed resource."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Unclosed"):
            self.reports.append(message.splitlines()[0])


@pytest.fixture(autouse=True)
def _nothing_left_unclosed():
    handler = _UnclosedReports()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.reports:
        pytest.fail("left open: " + "; ".join(handler.reports), pytrace=False)


@pytest.fixture
def mock_server():
    from debate.testing import MockServer

    with MockServer() as server:
        yield server
