"""The protocol guide's example runs as written, and does what the guide says."""

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from debate.cli.main import app

GUIDE = Path(__file__).parent.parent / "protocols" / "writing-a-protocol.md"


def guide_code() -> str:
    (code,) = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return code


def test_the_guides_protocol_runs_from_its_file_as_the_guide_says(tmp_path):
    (tmp_path / "challenge.py").write_text(guide_code())
    result = CliRunner().invoke(app, [
        "run", "--protocol", f"{tmp_path}/challenge.py:Challenge", "-m", "scripted:first-number",
        "--dataset", "experiments/data/arithmetic.jsonl", "--limit", "2",
        "--out", str(tmp_path / "runs"), "--name", "guide", "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "runs" / "guide" / "traces.jsonl").read_text().splitlines()
    for trace in map(json.loads, lines):
        turns = trace["turns"]
        # 2 answers, then the skeptic's critique and 2 revisions; majority needs no call
        assert [(t["agent"], t["kind"], t["round"]) for t in turns] == [
            ("agent-0", "answer", 0), ("agent-1", "answer", 0), ("skeptic", "critique", 1),
            ("agent-0", "answer", 1), ("agent-1", "answer", 1)]
        first, _, critique, revised, _ = turns
        assert critique["saw"] == [turns[0]["id"], turns[1]["id"]]  # both first answers
        # a debater's second call continues its first chat, then reads the critique
        assert revised["messages"][:len(first["messages"])] == first["messages"]
        # (on disk a turn's messages index the debate's table of [role, content] pairs)
        assert trace["messages"][revised["messages"][len(first["messages"])]] == [
            "assistant", first["raw"]]
        assert trace["final"]["method"] == "majority" and trace["final"]["answer"] is not None


def test_the_guides_call_count_is_what_a_debate_makes(tmp_path):
    import asyncio

    from debate import Question, run_debate
    from debate.plugins import protocol_from_file

    (tmp_path / "challenge.py").write_text(guide_code())
    cls = protocol_from_file(f"{tmp_path}/challenge.py:Challenge")
    for rounds in (1, 2):
        trace = asyncio.run(run_debate(Question(id="q", text="What is 2 + 3?", task="numeric"),
                                       protocol=cls(rounds=rounds),
                                       models="scripted:first-number"))
        assert len(trace.turns) == cls(rounds=rounds).max_calls() == 2 + 3 * rounds
