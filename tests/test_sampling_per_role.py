"""Sampling per agent and per role (issue 27, section 3): ``sampling:`` keyed like ``models:``,
``--temperature KEY=VALUE``, presets with the papers' values, the identity, the trace."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debate import ExperimentConfig, read_traces, run_debate
from debate.cli import app
from debate.errors import ConfigError
from debate.experiment.binding import build_agents
from debate.experiment.config import load_experiment
from debate.experiment.identity import changes, fingerprint
from debate.models.cache import cache_key
from debate.models.types import Message, SamplingParams
from debate.protocols import get_protocol
from debate.testing import MockServer, ScriptedModel
from debate.trace import Question, Sampled, parse_trace, trace_json

READING = "experiments/data/reading_qa.jsonl"
ARITHMETIC = "experiments/data/arithmetic.jsonl"


def _with(config: ExperimentConfig, **update) -> ExperimentConfig:
    """``config`` with ``update``, validated (``model_copy`` would not validate)."""
    return ExperimentConfig.model_validate({**config.model_dump(exclude_unset=True), **update})


def _seats(config: ExperimentConfig) -> dict[str, tuple[float | None, int | None]]:
    """Each agent's (temperature, max_tokens) as a run of ``config`` binds them."""
    cls, options = config.resolve_protocol()
    protocol = cls(**options)
    model = ScriptedModel(["x"], name="m")
    agents = build_agents(protocol, [model], config.roles, config.sampling_params(),
                          config.seed, sampling=config.sampling_layers())
    return {a.name: (a.params.temperature, a.params.max_tokens) for a in agents}


# -- on the wire ------------------------------------------------------------------------


def test_a_judge_at_0_and_debaters_at_0_7_in_one_run_are_seen_on_the_wire(tmp_path: Path):
    """Before: ``--temperature`` took one float for every agent (``qa-judge=0`` was a usage
    error, exit 2) and every request carried 0.7. After: the judge's requests carry 0 and
    64 tokens, the debaters' 0.7 and the run-wide 512, and each turn records its values."""
    with MockServer() as server:
        result = CliRunner().invoke(app, [
            "run", "--protocol", "debate-qa", "--dataset", READING, "--task", "exact",
            "--limit", "1", "--rounds", "1",
            "--model", f"qa-debater=openai:debater@{server.url}",
            "--model", f"qa-judge=openai:judge@{server.url}",
            "--temperature", "0.7", "--temperature", "qa-judge=0",
            "--max-tokens", "judge=64",
            "--out", str(tmp_path), "--name", "run", "--no-progress"])
        bodies = list(server.bodies)
    assert result.exit_code == 0, result.output
    sent = {(b["model"], b.get("temperature"), b.get("max_tokens")) for b in bodies}
    assert sent == {("debater", 0.7, 512), ("judge", 0, 64)}
    assert sum(b["model"] == "judge" for b in bodies) == 2  # one verdict per order
    (trace,) = read_traces(tmp_path / "run" / "traces.jsonl")
    for turn in trace.turns:
        assert turn.sampling is not None
        expected = (0, 64) if turn.agent == "judge" else (0.7, 512)
        assert (turn.sampling.temperature, turn.sampling.max_tokens) == expected, turn.id
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["config"]["sampling"] == {"qa-judge": {"temperature": 0.0},
                                            "judge": {"max_tokens": 64}}


# -- binding: keys mean what models: keys mean -------------------------------------------


def test_an_agents_name_wins_over_its_role_and_both_over_the_run_wide_values():
    """Before: ``sampling`` was an unknown key of the spec. After: role, then name, value by
    value, over the run-wide values; seeds stay ``seed + i``."""
    config = ExperimentConfig(
        protocol="du", models=["scripted:echo"], dataset=ARITHMETIC, temperature=0.7,
        max_tokens=512, sampling={"debater": {"temperature": 0.4, "max_tokens": 300},
                                  "agent-1": {"temperature": 0.9}})
    assert _seats(config) == {"agent-0": (0.4, 300), "agent-1": (0.9, 300),
                              "agent-2": (0.4, 300)}


def test_a_sampling_key_naming_no_seat_is_an_error_naming_its_place(tmp_path: Path):
    """Before: no ``sampling`` at all. After: a located error with the nearest name, for
    the spec's keys and a preset's, and unknown settings keys are refused."""
    config = ExperimentConfig(protocol="debate-qa", models=["scripted:echo"], dataset=READING,
                              sampling={"judg": {"temperature": 0}})
    with pytest.raises(ConfigError, match=r"^sampling\.judg: no seat or role named 'judg' "
                                          r"\(did you mean 'judge'\?\)"):
        fingerprint(config)
    far = _with(config, sampling={"zzz": {"temperature": 0}})
    with pytest.raises(ConfigError, match=r"sampling\.zzz: .*agents: debater-a, debater-b, "
                                          r"judge; roles: qa-debater, qa-judge"):
        fingerprint(far)
    preset = tmp_path / "p.yaml"
    preset.write_text("protocol: debate-qa\nsampling:\n  qa-jduge: {temperature: 0}\n")
    with pytest.raises(ConfigError, match=rf"{preset}: sampling\.qa-jduge: .*'qa-judge'"):
        fingerprint(_with(config, protocol=str(preset), sampling={}))
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"dataset: {Path(READING).resolve()}\nsampling:\n"
                    "  judge: {temprature: 0}\n  agent-0: {max_tokens: 0}\n")
    with pytest.raises(ConfigError) as error:
        load_experiment(spec)
    assert "sampling.judge.temprature: unknown key; did you mean 'temperature'?" in str(error.value)
    assert "sampling.agent-0.max_tokens: Input should be greater than or equal to 1" in str(
        error.value)


def test_a_config_read_back_means_the_same_sampling():
    """``config.json`` and a Ray shard's copy are dumps: a value not given stays not given
    (``{temperature: 0}`` does not come back with ``max_tokens: null``)."""
    config = ExperimentConfig(protocol="debate-qa", models=["scripted:echo"], dataset=READING,
                              sampling={"qa-judge": {"temperature": 0}})
    dumped = config.model_dump(mode="json")
    assert dumped["sampling"] == {"qa-judge": {"temperature": 0.0}}
    again = ExperimentConfig.model_validate(dumped)
    assert _seats(again) == _seats(config) and _seats(config)["judge"] == (0.0, 512)


def test_a_roles_former_name_is_an_unknown_key_listing_the_roles():
    config = ExperimentConfig(protocol="sr-dcr", models=["scripted:echo"],
                              dataset="experiments/data/context_qa.jsonl",
                              sampling={"challenger": {"temperature": 0.2}})
    with pytest.raises(ConfigError, match=r"sampling\.challenger: no seat or role named "
                                          r"'challenger' \(.*roles: .*context-critic"):
        _seats(config)


# -- presets ------------------------------------------------------------------------------


def test_presets_carry_the_papers_values_and_the_spec_goes_over_them():
    """Before: presets had no sampling (``sampling`` an unknown preset key). After: Khan et
    al.'s judges at 0 and speakers at 0.4, SR-DCR at 0 everywhere; a spec's values win."""
    def spec(preset: str, **extra) -> ExperimentConfig:
        return ExperimentConfig(protocol=f"protocols/{preset}.yaml", models=["scripted:echo"],
                                dataset=READING, **extra)

    assert _seats(spec("debate-qa")) == {"debater-a": (0.4, 512), "debater-b": (0.4, 512),
                                         "judge": (0.0, 512)}
    assert _seats(spec("consultancy")) == {"consultant": (0.4, 512), "judge": (0.0, 512)}
    assert _seats(spec("blind-judge")) == {"judge": (0.0, 512)}
    assert set(_seats(spec("sr-dcr-clasheval")).values()) == {(0.0, 512)}
    mine = spec("debate-qa", sampling={"qa-judge": {"temperature": 0.3},
                                       "debater-b": {"max_tokens": 100}})
    assert _seats(mine) == {"debater-a": (0.4, 512), "debater-b": (0.4, 100),
                            "judge": (0.3, 512)}


def test_a_run_wide_value_the_spec_sets_itself_is_every_agents():
    """``temperature: 1.0`` (or ``--temperature 1.0``) over a preset: the user's, for all;
    a Ray shard's copy of the config means the same (found in review: the preset's 0.4
    and 0 won silently)."""
    from debate.experiment.ray_executor import _portable

    config = ExperimentConfig(protocol="protocols/debate-qa.yaml", models=["scripted:echo"],
                              dataset=READING, temperature=1.0)
    assert set(_seats(config).values()) == {(1.0, 512)}
    mine = _with(config, sampling={"qa-judge": {"temperature": 0}})
    assert _seats(mine)["judge"] == (0.0, 512)  # a per-role value in the spec still wins
    preset_only = ExperimentConfig(protocol="protocols/debate-qa.yaml",
                                   models=["scripted:echo"], dataset=READING)
    for each in (config, preset_only):
        shard = ExperimentConfig.model_validate(_portable(each))
        assert _seats(shard) == _seats(each)
        assert fingerprint(shard).identity == fingerprint(each).identity


# -- identity and cache ---------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "identity"), [
    ("experiments/du-arithmetic-smollm2.yaml", "b39627ea70ce"),
    ("experiments/mad-arithmetic.yaml", "8987bfde5528"),
    ("experiments/sr-dcr-context.yaml", "8a7e5cb16dc1"),  # preset at 0 = its run-wide 0
])
def test_an_experiment_without_per_agent_sampling_keeps_its_identity(spec, identity):
    """Pinned from the commit before ``sampling:`` existed, so their run folders still
    resume. (A deliberate change to these specs' prompts or data moves a pin: update it.)"""
    config = load_experiment(spec)
    found = fingerprint(config)
    assert set(found.components["sampling"]) == {"seed", "temperature", "max_tokens",
                                                 "strict_parsing"}
    assert "sampling" not in found.components["settings"]
    assert found.identity == identity


def test_the_identity_hashes_the_resolved_values():
    base = ExperimentConfig(protocol="debate-qa", models=["scripted:echo"], dataset=READING,
                            temperature=0.7)
    plain = fingerprint(base)
    same = _with(base, sampling={"qa-judge": {"temperature": 0.7}})
    assert fingerprint(same).identity == plain.identity  # resolves to the run-wide values
    judge = fingerprint(_with(base, sampling={"qa-judge": {"temperature": 0}}))
    assert judge.identity != plain.identity
    assert changes(plain.components, judge.components) == [
        'sampling.agents: null -> {"judge": {"temperature": 0.0, "max_tokens": 512}}']
    by_name = fingerprint(_with(base, sampling={"judge": {"temperature": 0}}))
    assert by_name.identity == judge.identity  # a name or a role: the same resolved values


def test_agents_without_sampling_send_the_params_and_cache_keys_they_always_did():
    """A guard (passes before and after): the response cache of an existing run replays."""
    protocol = get_protocol("du")()
    model = ScriptedModel(["x"], name="m")
    base = SamplingParams(temperature=0.7, max_tokens=512)
    agents = build_agents(protocol, [model], (), base, 5)
    messages = [Message(role="user", content="q")]
    for i, agent in enumerate(agents):
        before = base.model_copy(update={"seed": 5 + i, "sampler": agent.name})
        assert agent.params == before
        assert cache_key("m", messages, agent.params) == cache_key("m", messages, before)


# -- the trace --------------------------------------------------------------------------------


async def test_each_turn_records_what_its_call_asked_for_and_old_traces_still_read():
    """Before: turns recorded the model only. After: ``Turn.sampling`` holds the call's
    parameters, SR-DCR's 10-token closed-book answer included; a trace written before
    reads with ``sampling=None``."""
    question = Question(id="q", text="Capital of France?", task="exact", gold="Paris",
                        context="Paris is the capital of France.")
    models = {"answerer": ScriptedModel(["Paris"] * 2), "defender": ScriptedModel(["ok"] * 9),
              "critic": ScriptedModel(["no"] * 9),
              "judge": ScriptedModel(['{"verdict": "REASONABLE", "reason": "r"}'])}
    trace = await run_debate(question, protocol="sr-dcr", models=models, answer_max_tokens=10,
                             params=SamplingParams(temperature=0.7, max_tokens=256),
                             sampling={"judge": {"temperature": 0},
                                       "context-critic": {"max_tokens": 99}})
    by_step = {(t.agent, t.step): t.sampling for t in trace.turns}
    closed = by_step["answerer", "closed"]
    assert closed == Sampled(temperature=0.7, max_tokens=10, seed=0, logprobs=True)
    assert by_step["answerer", "open"] == Sampled(temperature=0.7, max_tokens=10, seed=0)
    assert {s.max_tokens for (agent, _), s in by_step.items() if agent == "critic"} == {99}
    assert {s.temperature for (agent, _), s in by_step.items() if agent == "judge"} == {0.0}
    assert models["judge"].calls[0].params.temperature == 0  # what was sent
    line = trace_json(trace)
    assert b'"sampling":{"temperature":0.7,"max_tokens":10,"seed":0,"logprobs":true}' in line
    assert parse_trace(line) == trace
    old = json.loads(line)
    for turn in old["turns"]:
        del turn["sampling"]
    assert all(t.sampling is None for t in parse_trace(json.dumps(old)).turns)


# -- the command line ------------------------------------------------------------------------


def test_the_cli_adds_key_values_to_the_specs_sampling(tmp_path: Path, monkeypatch):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"protocol: debate-qa\nmodels: [scripted:echo]\n"
                    f"dataset: {Path(READING).resolve()}\n"
                    "sampling:\n  qa-judge: {max_tokens: 50, temperature: 0.5}\n")
    captured: list[ExperimentConfig] = []

    def run(config, **_):
        captured.append(config)
        raise KeyboardInterrupt  # stop before anything runs

    monkeypatch.setattr("debate.experiment.runner.run_experiment", run)
    result = CliRunner().invoke(app, ["run", str(spec), "--temperature", "qa-judge=0",
                                      "--max-tokens", "300"])
    assert result.exit_code == 130, result.output
    (config,) = captured
    assert config.max_tokens == 300 and config.temperature == 0.7
    assert {k: v.values() for k, v in config.sampling.items()} == {
        "qa-judge": {"max_tokens": 50, "temperature": 0.0}}


@pytest.mark.parametrize(("args", "message"), [
    (["--temperature", "warm"], "--temperature 'warm': give a number for every agent, "
                                "or KEY=VALUE"),
    (["--max-tokens", "judge=1.5"], "--max-tokens 'judge=1.5': give a whole number"),
    (["--temperature", "0.5", "--temperature", "0.6"], "--temperature: 0.5 and '0.6' are "
                                                       "both run-wide values"),
    (["--temperature", "judge=-1"], "sampling.judge.temperature: Input should be greater "
                                    "than or equal to 0"),
    (["--temperature", "judg=0"], "sampling.judg: no seat or role named 'judg'"),
    (["--temperature", "judge=0", "--temperature", "judge=0.5"],
     "--temperature: judge=0.0 and 'judge=0.5' give judge two values"),
])
def test_bad_sampling_flags_are_one_located_error(tmp_path: Path, args, message):
    result = CliRunner().invoke(app, ["run", "--protocol", "debate-qa", "--dataset", READING,
                                      "--model", "scripted:echo", "--limit", "1",
                                      "--out", str(tmp_path), "--no-progress", *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output
