"""Progress where people look: a bar in a terminal, plain timed lines in a log file."""

import asyncio
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from debate import ExperimentConfig, arun_experiment
from debate.errors import ConfigError
from debate.experiment.progress import RunProgress, duration
from debate.models.middleware import CallStats
from debate.testing import register_script

DATA = "experiments/data/arithmetic.jsonl"
GOLD = [json.loads(line)["answer"] for line in Path(DATA).read_text().splitlines()]


def log_console() -> tuple[Console, io.StringIO]:
    """A console writing to a file, as a cluster job's log is: not a terminal."""
    out = io.StringIO()
    return Console(file=out, width=80), out


def test_without_a_terminal_a_line_comes_every_interval_with_counts_and_eta(virtual_time):
    """Before, a log got nothing until the end; now a line every 30 s: counts, accuracy, ETA."""
    console, out = log_console()
    stats, failed = CallStats(), {}
    accuracy = ["acc n/a"]

    async def run() -> None:
        shown = RunProgress(console, total=10, done=2, stats=stats, failed=failed,
                            headline=lambda: accuracy[0], every=30)
        with shown:
            await asyncio.sleep(20)  # two debates in the first 20 s
            stats.calls, stats.retries = 60, 3
            stats.record_error("HTTP 429")
            accuracy[0] = "acc 50%"
            shown.advance()
            shown.advance()
            await asyncio.sleep(15)  # the first line at 30 s
            failed["q9"] = "HTTP 500 after 3 retries"
            await asyncio.sleep(30)  # the second at 60 s; the run ends at 65 s

    virtual_time.run(run())
    assert out.getvalue().splitlines() == [
        # 4 done of 10, 2 in 30 s: 6 left take 90 s
        "progress: 4/10 debates · acc 50% · 2.0 calls/s · 3 retries · "
        "1 error (HTTP 429: 1) · 30s elapsed · ETA 1m30s",
        # one failed: 5 left at 2 per 60 s take 2m30s
        "progress: 4/10 debates, 1 failed · acc 50% · 1.0 calls/s · 3 retries · "
        "1 error (HTTP 429: 1) · 1m00s elapsed · ETA 2m30s",
        "done: 4/10 debates, 1 failed · acc 50% · 0.9 calls/s · 3 retries · "
        "1 error (HTTP 429: 1) · in 1m05s",
    ]


def test_before_the_first_debate_the_eta_is_not_guessed(virtual_time):
    """A line before any debate finished says ETA n/a rather than dividing by nothing."""
    console, out = log_console()

    async def run() -> None:
        with RunProgress(console, total=3, done=0, stats=CallStats(), failed={},
                         headline=lambda: "acc n/a", every=10):
            await asyncio.sleep(11)

    virtual_time.run(run())
    first = out.getvalue().splitlines()[0]
    assert first.startswith("progress: 0/3 debates") and first.endswith("ETA n/a")


def test_a_terminal_gets_the_bar_with_retries_and_errors_not_lines(virtual_time):
    """In a terminal the bar draws; its info column shows live retries and errors, no lines."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    stats = CallStats(calls=5, retries=2)
    stats.record_error("timeout")

    async def run() -> str:
        shown = RunProgress(console, total=4, done=0, stats=stats, failed={},
                            headline=lambda: "acc 100%", every=1)
        with shown:
            shown.advance()
            await asyncio.sleep(5)
            return shown.info()

    info = virtual_time.run(run())
    assert "2 retries · 1 error (timeout: 1)" in info and info.startswith("acc 100% · ")
    assert "progress:" not in out.getvalue() and "done:" not in out.getvalue()
    assert "1/4" in out.getvalue()  # the bar itself


def test_no_progress_shows_nothing_in_a_log(virtual_time):
    """``--no-progress`` (show=False) prints no line either."""
    console, out = log_console()

    async def run() -> None:
        with RunProgress(console, total=2, done=0, stats=CallStats(), failed={},
                         headline=lambda: "acc n/a", show=False, every=1):
            await asyncio.sleep(5)

    virtual_time.run(run())
    assert out.getvalue() == ""


@pytest.mark.parametrize("every", [0, -5, 0.5, 100000, float("nan"), "30", True])
def test_a_progress_interval_out_of_range_is_refused_naming_the_range(every, tmp_path):
    """An interval that is no number of seconds from 1 to 86400 is an error before the run."""
    config = ExperimentConfig(dataset={"path": DATA, "task": "numeric"},
                              models=["scripted:first-number"], output_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"progress_every: .* from 1 to 86400"):
        asyncio.run(arun_experiment(config, progress_every=every))
    assert not any(tmp_path.iterdir())  # nothing written


def test_durations_read_as_seconds_minutes_or_hours():
    """ETA and elapsed read 45s, 7m30s, 2h05m."""
    assert [duration(s) for s in (0, 44.2, 450, 7500)] == ["0s", "45s", "7m30s", "2h05m"]


def test_a_run_logs_progress_lines_while_it_runs_and_one_at_the_end(tmp_path, virtual_time):
    """A run redirected to a file prints a line each interval, not only one at the end."""
    async def slow(messages, params):  # each call takes 10 s on the virtual clock
        await asyncio.sleep(10)
        return "The answer is \\boxed{0}."

    register_script("slow", slow)
    config = ExperimentConfig(dataset={"path": DATA, "task": "numeric"}, limit=4,
                              models=["scripted:slow"], protocol="single", cache=False,
                              output_dir=str(tmp_path), name="run", concurrency=1)
    console, out = log_console()
    summary = virtual_time.run(arun_experiment(config, console=console, progress_every=12))
    assert summary.debates == 4  # at 10, 20, 30 and 40 s; lines at 12, 24 and 36 s
    lines = [line for line in out.getvalue().splitlines()
             if line.startswith(("progress:", "done:"))]
    assert [line.split(" · ")[0] for line in lines] == [
        "progress: 1/4 debates", "progress: 2/4 debates", "progress: 3/4 debates",
        "done: 4/4 debates"]
    assert lines[0].endswith("12s elapsed · ETA 36s") and lines[-1].endswith("in 40s")


def test_debate_run_in_a_log_ends_with_a_done_line_and_takes_progress_every(tmp_path):
    """`debate run` redirected (not a terminal) prints the closing progress line; the
    interval is `--progress-every`, refused outside 1 s to a day."""
    from typer.testing import CliRunner

    from debate.cli import app

    args = ["run", "--dataset", DATA, "-m", "scripted:first-number", "--protocol", "single",
            "--limit", "2", "--out", str(tmp_path), "--name", "r"]
    result = CliRunner().invoke(app, [*args, "--progress-every", "5"])
    assert result.exit_code == 0, result.output
    assert "done: 2/2 debates" in result.output
    refused = CliRunner().invoke(app, [*args, "--progress-every", "0"])
    assert refused.exit_code == 2 and "--progress-every" in refused.output
