"""A run's debates are listed in the dataset's order, whatever order they finished in."""

import asyncio
import csv
import re

from debate import ExperimentConfig, arun_experiment
from debate.testing import register_script
from debate.trace import read_traces
from debate.viewer.data import viewer_data

DATA = "experiments/data/sums.jsonl"


def test_results_and_the_viewer_list_debates_in_dataset_order(tmp_path, virtual_time):
    """Before: results.csv and the viewer's list followed traces.jsonl, the order debates
    finished in (here the reverse); now both follow the dataset."""
    async def later_first(messages, params):  # sum-00 takes longest: it finishes last
        first = int(re.findall(r"\d+", messages[-1].content)[0])
        await asyncio.sleep(100 - first)
        return f"The answer is \\boxed{{{first}}}."

    register_script("later-first", later_first)
    config = ExperimentConfig(dataset={"path": DATA, "task": "numeric"}, limit=4,
                              models=["scripted:later-first"], protocol="single", cache=False,
                              output_dir=str(tmp_path), name="run", concurrency=4)
    summary = virtual_time.run(arun_experiment(config, progress=False))
    run = tmp_path / "run"
    finished = [t.question.id for t in read_traces(run / "traces.jsonl")]
    dataset = ["sum-00", "sum-01", "sum-02", "sum-03"]
    assert summary.debates == 4 and finished != dataset  # they finished out of order
    with (run / "results.csv").open(encoding="utf-8", newline="") as file:
        assert [row["id"] for row in csv.DictReader(file)] == dataset
    listed = viewer_data([run]).index["debates"]
    assert [row["qid"] for row in listed] == dataset
