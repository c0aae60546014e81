"""Running experiments: the config, the run session, the runner, shards, Ray, identity.

- :mod:`~debate.experiment.config`: :class:`ExperimentConfig` (the YAML spec as a model)
  and :class:`RayOptions`;
- :mod:`~debate.experiment.session`: :class:`RunSession`, one process's run: the protocol
  (resolved once), the models, the agents, the cache, the debates, closing them all;
- :mod:`~debate.experiment.runner`: :func:`run_debate`, :func:`arun_experiment`: the run
  folder's whole job (resume, progress, summary, report, results);
- :mod:`~debate.experiment.progress`: :class:`RunProgress`, a bar in a terminal, a plain
  line every ``progress_every`` seconds in a log;
- :mod:`~debate.experiment.run_folder`: the folder's lock, ``config.json`` and what earlier
  invocations left;
- :mod:`~debate.experiment.shard`: debates at a given concurrency, and when an outage
  stops a run;
- :mod:`~debate.experiment.ray_executor`: ``executor: ray``, shards in Ray actors, each
  with its own :class:`RunSession`;
- :mod:`~debate.experiment.identity`: the experiment's fingerprint and what changed;
- :mod:`~debate.experiment.binding`: agents built from a protocol, models, roles and sampling;
- :mod:`~debate.experiment.plugins`: ``FILE.py:Class`` references and ``--plugin`` files;
- :mod:`~debate.experiment.gc_tuning`: ``batch_gc``, the garbage collector tuned for a run.

Nothing is imported here: ``import debate.experiment.config`` loads only what it needs.
"""
