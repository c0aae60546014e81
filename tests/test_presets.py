"""Presets tell the truth: each reproduces its reference's setup, with the call count it states."""

import pytest

from debate import ExperimentConfig, arun_experiment
from debate.cards import ProtocolPreset, load_card
from debate.errors import ConfigError
from debate.protocols import get_protocol
from debate.protocols.single import SelfConsistencyProtocol


def preset(name):
    card = load_card(f"protocols/{name}.yaml", ProtocolPreset)
    return get_protocol(card.protocol)(**card.options)


@pytest.mark.parametrize(("name", "calls"), [
    ("du-gsm", 6),  # gen_gsm.py: agents = 3, rounds = 2 -> initial + 1 debate round
    ("du-2rounds", 9),
    ("du-arithmetic", 6),  # gen_math.py: agents = 2, rounds = 3 -> initial + 2 rounds
    ("du-rcr", 12),  # DTE: 3 agents, up to 3 debate rounds
    ("du-debunc", 9),
    ("mad-ciar", 3 * 3 + 2),
    ("peer-review", 12),
    ("reconcile", 12),
    ("sr-dcr-clasheval", 2 + 2 * 5 + 1),
    ("critique-refine", 7),
    ("self-refine", 7),
    ("self-consistency-matched", 6),  # matched to du-gsm
    ("debate-qa", 2 * (3 * 2 + 1)),  # 2 orders x (3 rounds x 2 speeches + the verdict)
    ("consultancy", 2 * (3 + 2 + 1)),  # 2 orders x (3 speeches + 2 questions + the verdict)
    ("blind-judge", 2),
    # 1 round: per seat 2 candidates + 2 ratings + 1 opponent sampled for them; the verdict
    ("debate-qa-selfplay", 2 * (2 * (2 + 2 + 1) + 1)),
    ("debate-qa-bon", 2 * (3 * 2 * (16 + 16) + 1)),  # per speech: 16 candidates, 16 ratings
])
def test_each_preset_states_its_call_count(name, calls):
    assert preset(name).max_calls() == calls


def test_du_gsm_is_the_reference_gsm_run():
    config = preset("du-gsm").config
    assert (config.agents, config.rounds) == (3, 1)
    assert (preset("du-2rounds").config.rounds, preset("du-arithmetic").config.agents) == (2, 2)


def test_presets_name_their_compat_choices():
    assert preset("mad-ciar").config.stop_rule == "preference"
    assert preset("peer-review").config.review_memory == "chat"
    assert preset("self-refine").config.history == "all"
    assert preset("du-debunc").config.uncertainty == "entropy"
    assert preset("sr-dcr-clasheval").config.confidence == "logprobs"


async def test_self_consistency_matches_the_mean_calls_a_run_actually_made(tmp_path):
    # du with consensus stop on a script where every agent agrees at once: 3 calls per
    # debate, not the worst case of 9
    config = ExperimentConfig(
        protocol="du", protocol_options={"stop_on_consensus": True},
        models=["scripted:first-number"], dataset={"path": "experiments/data/arithmetic.jsonl",
                                                   "task": "numeric"},
        limit=4, output_dir=str(tmp_path), name="debate")
    summary = await arun_experiment(config, progress=False)
    assert summary.calls == 4 * 3
    proto = SelfConsistencyProtocol(match_run=str(tmp_path / "debate"))
    assert proto.samples == 3 and proto.config.matched_mean_calls == 3.0
    assert proto.config.model_dump()["samples"] == 3  # what traces record
    worst = SelfConsistencyProtocol(match_calls_of="du", match_options={"stop_on_consensus": True})
    assert worst.samples == 9


def test_match_run_rounds_the_mean_and_refuses_an_empty_run(tmp_path):
    from debate.trace import DebateTrace, FinalAnswer, Question, Totals, TraceWriter

    def trace(i, calls):
        return DebateTrace(id=str(i), protocol="du", question=Question(id=str(i), text="?"),
                           agents=[], turns=[], final=FinalAnswer(answer=None, method="x"),
                           stop_reason="done", totals=Totals(calls=calls))

    run = tmp_path / "run"
    with TraceWriter(run / "traces.jsonl") as writer:
        for i, calls in enumerate([3, 6]):  # mean 4.5 -> 5 samples
            writer.write(trace(i, calls))
    proto = SelfConsistencyProtocol(match_run=str(run))
    assert (proto.samples, proto.config.matched_mean_calls) == (5, 4.5)
    with pytest.raises(ConfigError, match="no finished debates"):
        SelfConsistencyProtocol(match_run=str(tmp_path))
    with pytest.raises(ConfigError, match="not both"):
        SelfConsistencyProtocol(match_run=str(tmp_path), match_calls_of="du")
