"""Running experiments: the config, the run session, shards, Ray, identity, bindings, plug-ins.

- :mod:`~debate.experiment.config`: :class:`ExperimentConfig`, the YAML spec as a model;
- :mod:`~debate.experiment.runner`: :func:`run_debate`, :func:`arun_experiment`, the run folder;
- :mod:`~debate.experiment.shard`: one process's debates (models, agents, cache, concurrency);
- :mod:`~debate.experiment.ray_executor`: ``executor: ray``, shards in Ray actors;
- :mod:`~debate.experiment.identity`: the experiment's fingerprint and what changed;
- :mod:`~debate.experiment.binding`: agents built from a protocol, models, roles and sampling;
- :mod:`~debate.experiment.plugins`: ``FILE.py:Class`` references and ``--plugin`` files.

Nothing is imported here: ``import debate.experiment.config`` loads only what it needs.
"""
