"""Reading runs: metrics, statistics, reports, results tables, comparisons, plots, ratings.

- :mod:`~debate.analysis.metrics`: :class:`Summary`, per-round accuracy, consensus, flips;
- :mod:`~debate.analysis.oversight_metrics`: judge accuracy and calibration of oversight runs;
- :mod:`~debate.analysis.stats`: intervals and paired tests;
- :mod:`~debate.analysis.report`: ``report.md`` and ``accuracy.svg``;
- :mod:`~debate.analysis.results`: ``results.csv``;
- :mod:`~debate.analysis.compare`: ``debate compare`` over several runs;
- :mod:`~debate.analysis.plots`: the SVG plots;
- :mod:`~debate.analysis.ratings`: Elo-style ratings of debaters from judged debates.

Everything here reads traces and summaries; nothing calls a model.
Nothing is imported here: ``import debate.analysis.metrics`` loads only what it needs.
"""
