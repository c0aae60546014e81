"""Backends declare their capabilities; middleware reports its backend's; ``wrap`` obeys them."""

from types import SimpleNamespace
from typing import Any

import pytest

from debate import PROTOCOLS
from debate.errors import ConfigError
from debate.experiment.binding import build_agents
from debate.models import (
    CallStats,
    Capabilities,
    ChatModel,
    Completion,
    EndpointPool,
    Limits,
    RetryPolicy,
    capabilities_of,
    wrap,
)
from debate.models.anthropic_backend import AnthropicModel
from debate.models.batch.api import DEFAULT_MAX_BYTES, DEFAULT_MAX_ITEMS
from debate.models.batch.scheduler import BatchingModel
from debate.models.llamacpp import LlamaCppModel
from debate.models.middleware import Cached, Limited, Retrying
from debate.models.openai_backend import OpenAIModel
from debate.models.types import DEFAULT_CAPABILITIES
from debate.models.vllm_backend import VLLMModel
from debate.testing import ScriptedModel


class Custom:
    """A user's model: only ``name`` and ``generate``, no declarations."""

    name = "custom"

    async def generate(self, messages: Any, params: Any) -> Completion:
        return Completion(text="ok")


class Sized(Custom):
    """A backend that serves one slot per agent, as the embedded model does."""

    capabilities = Capabilities(in_process=True, sized_to_users=True)

    def __init__(self) -> None:
        self.sized: list[int] = []

    def size_for(self, users: int) -> None:
        self.sized.append(users)


def stack(backend: ChatModel, retry: RetryPolicy | None = None) -> tuple[Retrying, ChatModel]:
    """``wrap``'s retry layer and what it wraps (the limits, or the backend itself)."""
    model = wrap(backend, stats=CallStats(), retry=retry)
    assert isinstance(model, Cached) and isinstance(model.inner, Retrying)
    return model.inner, model.inner.inner


def batching() -> BatchingModel:
    client = SimpleNamespace(max_items=DEFAULT_MAX_ITEMS, max_bytes=DEFAULT_MAX_BYTES)
    return BatchingModel("openai:m", lambda m, p: {}, lambda data: Completion(text=""),
                         client=client)  # type: ignore[arg-type]  # limits only: never called


def test_a_wrapped_model_reports_its_backends_capabilities():
    """Every middleware layer reports the capabilities of the backend it wraps."""
    for backend in (ScriptedModel("x"), Sized(), batching(), Custom()):
        model = wrap(backend, stats=CallStats())
        layer: Any = model
        while layer is not backend:
            assert capabilities_of(layer) == capabilities_of(backend)
            layer = layer.inner


def test_a_custom_model_that_declares_nothing_gets_the_defaults_and_is_limited_and_timed():
    """A ChatModel with only name and generate has the defaults: limits and a timeout."""
    assert isinstance(Custom(), ChatModel)
    assert capabilities_of(Custom()) == DEFAULT_CAPABILITIES == Capabilities()
    retrying, under = stack(Custom())
    assert retrying.policy.timeout == RetryPolicy().timeout == 120.0
    assert isinstance(under, Limited) and isinstance(under.inner, Custom)


def test_a_declaration_that_is_not_capabilities_is_an_error():
    """Only a Capabilities object declares capabilities; anything else is refused by name."""
    odd = Custom()
    odd.capabilities = {"batched": True}  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="capabilities must be a debate.models.Capabilities"):
        capabilities_of(odd)


def test_a_former_flag_attribute_is_an_error_naming_the_declaration_to_write():
    """Found in review: a backend written for 0.0 sets in_process = True; ignored, it would
    get a timeout and an in-flight cap in silence. It is refused with the form to write."""
    old = Custom()
    old.in_process = True  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"declare capabilities = Capabilities\(in_process="
                                          r"True\)"):
        wrap(old, stats=CallStats())


def test_an_in_process_backend_is_wrapped_without_a_timeout():
    """An in-process backend is limited but untimed, unless a timeout is set explicitly."""
    retrying, under = stack(ScriptedModel("x"))
    assert retrying.policy.timeout is None and isinstance(under, Limited)
    retrying, _ = stack(ScriptedModel("x"), RetryPolicy(max_attempts=2))
    assert retrying.policy.timeout is None
    retrying, _ = stack(ScriptedModel("x"), RetryPolicy(timeout=30))
    assert retrying.policy.timeout == 30


def test_a_batched_backend_gets_no_in_flight_cap_and_no_timeout():
    """A batching model is neither limited nor timed, even when a timeout is set."""
    backend = batching()
    retrying, under = stack(backend, RetryPolicy(timeout=30))
    assert retrying.policy.timeout is None and under is backend


def test_a_pool_limits_each_endpoint_itself():
    """An endpoint pool gets no in-flight cap around it, but its attempts are timed."""
    pool = EndpointPool([("http://127.0.0.1:1", ScriptedModel("x")),
                         ("http://127.0.0.1:2", ScriptedModel("x"))], [Limits(), Limits()])
    assert capabilities_of(pool).limits_each_endpoint
    retrying, under = stack(pool)
    assert under is pool and retrying.policy.timeout == 120.0


@pytest.mark.parametrize(("backend", "declared"), [
    (LlamaCppModel, Capabilities(in_process=True, sized_to_users=True)),
    (VLLMModel, Capabilities(in_process=True)),
    (ScriptedModel, Capabilities(in_process=True)),
    (EndpointPool, Capabilities(limits_each_endpoint=True)),
    (BatchingModel, Capabilities(batched=True)),
    (OpenAIModel, DEFAULT_CAPABILITIES),
    (AnthropicModel, DEFAULT_CAPABILITIES),
])
def test_each_built_in_backend_declares_its_capabilities(backend, declared):
    """The built-in backends declare what they can do, as a class attribute."""
    assert backend.capabilities == declared


def test_a_wrapped_backend_sized_to_its_users_is_told_how_many_agents_use_it():
    """Building agents tells a sized backend, through its middleware, how many use it."""
    protocol = PROTOCOLS.lookup("du")()
    backend = Sized()
    build_agents(protocol, [wrap(backend, stats=CallStats())])
    assert backend.sized == [len(protocol.agent_names())] and backend.sized[0] > 1


def test_a_model_that_does_not_declare_sizing_is_not_sized():
    """A size_for method alone does not make a model sized: the declaration does."""
    class Undeclared(Sized):
        capabilities = Capabilities(in_process=True)

    backend = Undeclared()
    build_agents(PROTOCOLS.lookup("du")(), [wrap(backend, stats=CallStats())])
    assert backend.sized == []
