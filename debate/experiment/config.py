"""Experiment configs: the same names in YAML, on the command line and in Python.

A config names a protocol (a registered name or a preset card), models (one
spec for every agent, or one per agent), a dataset and the run's settings.
Relative paths in a YAML spec are resolved against the spec's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from debate.cards import ProtocolPreset, load_card, load_yaml, validate
from debate.datasets import DatasetSpec, LoadedDataset, read_dataset
from debate.datasets.memory import MemoryRows, is_hf_dataset
from debate.errors import ConfigError
from debate.experiment.plugins import load_plugin, protocol_from_file, split_file_ref
from debate.models.accounting import Price
from debate.models.batch import BatchPolicy
from debate.models.middleware import Limits, RetryPolicy
from debate.models.pool import Endpoint, PoolPolicy
from debate.models.types import SamplingParams
from debate.protocols.base import DebateProtocol, get_protocol
from debate.sampling import Sampling, SamplingLayer
from debate.settings import Settings

__all__ = ["ExperimentConfig", "RayOptions", "load_experiment"]


class RayOptions(Settings):
    """How a run is spread over Ray (``executor: ray``)."""

    address: str | None = None
    """The cluster to join (``auto``, ``ray://HOST:10001``...); ``None``: ``RAY_ADDRESS``
    if set, else a Ray started on this machine for the run."""
    shards: int | None = Field(default=None, ge=1)
    """Actors (each one shard of the questions); ``None``: the cluster's CPUs divided by
    ``num_cpus``."""
    num_cpus: float = Field(default=1.0, gt=0)
    """CPUs Ray reserves for each actor."""
    max_restarts: int = Field(default=3, ge=0)
    """Times a shard whose actor died is started again before its debates count as failed."""


class ExperimentConfig(Settings):
    """One debate experiment."""

    name: str | None = None
    """Run name: results go to ``<output_dir>/<name>/``. Default: derived from the config."""
    protocol: str = "du"
    """A registered protocol name, a preset card path (``protocols/du-gsm.yaml``), or a
    protocol class in a Python file (``my_protocol.py:MyProtocol``, see
    :mod:`debate.experiment.plugins`)."""
    plugins: list[str] = Field(default_factory=list)
    """Python files (relative to the spec) or modules imported before the run; they register
    protocols, roles, judges, formats or scripted models (see :mod:`debate.experiment.plugins`)."""
    protocol_options: dict[str, Any] = Field(default_factory=dict)
    """Options over the protocol's (or preset's) defaults."""
    agents: int | None = Field(None, ge=1)
    """Shortcut for ``protocol_options.agents``."""
    rounds: int | None = Field(None, ge=0)
    """Shortcut for ``protocol_options.rounds``."""
    models: list[str] = Field(default_factory=lambda: ["llamacpp:smollm2"])
    """Model specs: one for every agent, one per agent, or ``KEY=spec`` bound to the agent
    or role KEY (``judge=openai:gpt-4o``); see :mod:`debate.experiment.binding`."""
    roles: list[str] = Field(default_factory=list)
    """Role card paths or registered role names: none (the protocol's roles), one for every
    agent, one per agent, or ``KEY=value`` bound to the agent or role KEY. A registered role
    must be the agent's protocol role or a subclass of it."""
    dataset: DatasetSpec
    """The questions: a file path, a :class:`DatasetSpec`, or, in Python, a list of
    :class:`~debate.trace.Question` or of dicts, or a ``datasets.Dataset``."""
    limit: int | None = Field(None, ge=1)
    """Use only the first ``limit`` questions."""
    concurrency: int = Field(8, ge=1)
    """Debates run at the same time."""
    seed: int = Field(0, ge=0, le=2**63 - 1)
    """Base sampling seed; agent i samples with ``seed + i``."""
    temperature: float | None = Field(0.7, ge=0)
    """Sampling temperature of every agent ``sampling`` leaves alone (``None``: the
    backend's default)."""
    max_tokens: int = Field(512, ge=1)
    """Completion token limit per call, for every agent ``sampling`` leaves alone."""
    sampling: dict[str, Sampling] = Field(default_factory=dict)
    """Sampling per agent or role over ``temperature`` and ``max_tokens``, keyed like
    ``models`` (an agent's name wins over its role): ``{qa-judge: {temperature: 0},
    qa-debater: {temperature: 0.4, max_tokens: 300}}``. Goes over a preset's
    ``sampling``; see :mod:`debate.sampling`."""
    strict_parsing: bool = False
    """Count only answers given in the asked form (``\\boxed{}``, an "Answer:" line, a JSON
    field); an answer found by a fallback (last number, yes/no word, option text) counts
    as unparsed, in the debate's votes and in every metric."""
    output_dir: str = "runs"
    """Folder that holds run folders."""
    cache: bool = True
    """Keep a response cache in the run folder (needed to resume without paying twice)."""
    limits: Limits = Field(default_factory=Limits)
    """Per-endpoint request limits."""
    endpoints: dict[str, list[Endpoint]] = Field(default_factory=dict)
    """Replicas of a model, by the model's spec as ``models`` names it without a URL:
    ``{"openai:Qwen/Qwen2.5-7B-Instruct": [{url: http://a:8000/v1, max_in_flight: 128},
    ...]}``. Their calls are spread over the replicas (an endpoint pool,
    :mod:`debate.models.pool`); limits not given are ``limits``'."""
    pool: PoolPolicy = Field(default_factory=PoolPolicy)
    """How endpoint pools route calls and take failing replicas out of rotation."""
    batch: bool = False
    """Send the calls of ``openai:`` models through the provider's Batch API, one batch
    per step of every unfinished debate, at the batch price (:mod:`debate.models.batch`)."""
    batch_options: BatchPolicy = Field(default_factory=BatchPolicy)
    """When a batch is submitted, how it is polled, and its price as a share."""
    executor: Literal["local", "ray"] = "local"
    """Where the debates run: in this process, or sharded over Ray actors
    (:mod:`debate.experiment.ray_executor`; ``pip install 'debatelab[ray]'``)."""
    ray: RayOptions = Field(default_factory=RayOptions)
    """The cluster, shards and CPUs of a Ray run."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    """Retry policy and per-call timeout."""
    prices: dict[str, Price] = Field(default_factory=dict)
    """Price overrides, dollars per million tokens, by model name."""
    backend_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Constructor options per backend, e.g. ``{llamacpp: {n_ctx: 4096}}``."""

    @field_validator("dataset", mode="before")
    @classmethod
    def _dataset_path(cls, value: Any) -> Any:
        """A path, or in-memory data (Questions, dicts, a ``datasets.Dataset``), as a spec."""
        if isinstance(value, str | Path):
            return {"path": value}
        if isinstance(value, list | tuple | MemoryRows) or is_hf_dataset(value):
            return {"rows": value}
        if not isinstance(value, dict | DatasetSpec):
            raise ValueError(f"{type(value).__name__} ({repr(value)[:40]}) is not a dataset: "
                             "give a file path, a DatasetSpec (or its mapping: path, hub or "
                             "rows), a list of Questions or of dicts, or a datasets.Dataset")
        return value

    @field_validator("name")
    @classmethod
    def _one_folder_name(cls, value: str | None) -> str | None:
        if value is not None and (value in ("", ".", "..") or any(c in value for c in "/\\\0")):
            raise ValueError(f"{value!r} is not a folder name: a run name is one path component "
                             "(no '/', '\\', '.' or '..'); put runs elsewhere with --out")
        return value

    @field_validator("batch")
    @classmethod
    def _batch_keeps_the_cache(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("cache") is False:
            raise ValueError("true needs cache: true (--batch without --no-cache): "
                             "without the response cache, a re-run would pay again for every "
                             "call a finished batch answered")
        return value

    @field_validator("models")
    @classmethod
    def _models_nonempty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one model spec")
        return value

    @model_validator(mode="after")
    def _endpoints_name_models(self) -> ExperimentConfig:
        from debate.experiment.binding import split_bindings
        from debate.models.spec import parse_model_spec

        positional, named = split_bindings(self.models)
        used = {*positional, *named.values()}
        for spec, listed in self.endpoints.items():
            parsed = parse_model_spec(spec)
            if parsed.base_url is not None:
                raise ValueError(f"endpoints: name the model without a URL ({parsed.backend}:"
                                 f"{parsed.model}); its URLs are the list's")
            if spec not in used:
                raise ValueError(f"endpoints: {spec!r} is not one of the models "
                                 f"({', '.join(sorted(used))})")
            if not listed:
                raise ValueError(f"endpoints: {spec!r} lists no endpoint")
        if self.batch and self.executor == "ray":
            raise ValueError("batch: true runs in one process (one batch per step of every "
                             "debate); use executor: local with it")
        return self

    def endpoints_of(self, spec: str) -> list[Endpoint]:
        """The replicas serving ``spec``, each with its limits (``limits`` fill the gaps).

        ``endpoints[spec]``, else the URLs of a ``@URL,URL`` spec, else none.
        """
        from debate.models.spec import parse_model_spec

        defaults = self.limits.model_dump()
        if spec in self.endpoints:
            return [Endpoint(**(defaults | e.model_dump(exclude_unset=True)))
                    for e in self.endpoints[spec]]
        return [Endpoint(url=url, **defaults) for url in parse_model_spec(spec).pool]

    def preset(self) -> ProtocolPreset | None:
        """The preset card ``protocol`` names, if it names one."""
        if self.protocol.endswith((".yaml", ".yml")):
            return load_card(self.protocol, ProtocolPreset)
        return None

    def sampling_params(self) -> SamplingParams:
        """The run-wide sampling parameters (before ``sampling`` and seeds)."""
        return SamplingParams(temperature=self.temperature, max_tokens=self.max_tokens)

    def sampling_layers(self) -> list[SamplingLayer]:
        """The ``sampling`` blocks over the run-wide values: the preset's, then this spec's.

        A run-wide value this spec sets itself (``temperature: 1.0``, ``--temperature
        1.0``) is the user's for every agent: the preset's per-role values of it give way.
        """
        preset = self.preset()
        layers: list[SamplingLayer] = []
        own = {"temperature", "max_tokens"} & self.model_fields_set
        if preset is not None and preset.sampling:
            kept = {key: Sampling(**{k: v for k, v in item.values().items() if k not in own})
                    for key, item in preset.sampling.items()}  # every key still checked
            layers.append((f"{self.protocol}: sampling", kept))
        if self.sampling:
            layers.append(("sampling", self.sampling))
        return layers

    def read_dataset(self) -> LoadedDataset:
        """The run's questions: ``dataset`` read with its task, fields, ``limit`` and tolerances."""
        return read_dataset(self.dataset.source(), task=self.dataset.task,
                            fields=self.dataset.fields, limit=self.limit,
                            partial_gold=self.dataset.partial_gold,
                            numeric_tolerance=self.dataset.numeric_tolerance)

    def resolve_protocol(self) -> tuple[type[DebateProtocol], dict[str, Any]]:
        """The protocol class and its options (preset, then options, then shortcuts)."""
        self.load_plugins()
        options: dict[str, Any] = {}
        name = self.protocol
        preset = self.preset()
        if preset is not None:
            name, options = preset.protocol, dict(preset.options)
        cls = protocol_from_file(name) if split_file_ref(name) else get_protocol(name)
        options.update(self.protocol_options)
        for key in ("agents", "rounds"):
            value = getattr(self, key)
            if value is not None:
                if key not in cls.config_class.model_fields:
                    raise ConfigError(f"protocol {name!r} has no option {key!r}; its options: "
                                      f"{sorted(cls.config_class.model_fields)}")
                options[key] = value
        return cls, options

    def load_plugins(self) -> None:
        """Import the spec's plug-ins and the file of a ``file.py:Class`` protocol (once)."""
        for ref in self.plugins:
            load_plugin(ref)

    def code_files(self) -> list[str]:
        """Plug-in files and modules whose source is part of what this run computes."""
        split = split_file_ref(self.protocol)
        return [*self.plugins, *([split[0]] if split else [])]

    def run_name(self, identity: str) -> str:
        """The run folder's name: ``name``, or protocol, dataset and ``identity`` joined.

        ``identity``: the experiment's (:func:`debate.experiment.identity.fingerprint`).
        """
        if self.name:
            return self.name
        split = split_file_ref(self.protocol)
        protocol = split[1] if split else Path(self.protocol).stem
        return f"{protocol}-{self.dataset.label}-{identity[:8]}"


def _resolve(base: Path, value: str) -> str:
    """``value`` relative to ``base`` when it names a file there, else unchanged."""
    candidate = base / value
    return str(candidate) if not Path(value).is_absolute() and candidate.exists() else value


def _resolve_role(base: Path, value: str) -> str:
    """A role card path, or ``KEY=path`` binding, relative to the spec's folder."""
    from debate.experiment.binding import split_bindings

    positional, named = split_bindings([value])
    if named:
        ((key, card),) = named.items()
        return f"{key}={_resolve(base, card)}"
    return _resolve(base, positional[0])


def load_experiment(path: str | Path, **overrides: Any) -> ExperimentConfig:
    """Load an experiment spec from YAML; ``overrides`` (non-``None``) replace its values."""
    path = Path(path)
    data, node = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: an experiment spec must be a mapping")
    base = path.parent
    if isinstance(data.get("protocol"), str):
        split = split_file_ref(data["protocol"])
        data["protocol"] = (f"{_resolve(base, split[0])}:{split[1]}" if split
                            else _resolve(base, data["protocol"]))
    if isinstance(data.get("plugins"), list):
        data["plugins"] = [_resolve(base, p) if isinstance(p, str) else p
                           for p in data["plugins"]]
    dataset = data.get("dataset")
    if isinstance(dataset, str):
        data["dataset"] = _resolve(base, dataset)
    elif isinstance(dataset, dict) and isinstance(dataset.get("path"), str):
        dataset["path"] = _resolve(base, dataset["path"])
    if isinstance(data.get("roles"), list):
        data["roles"] = [_resolve_role(base, r) if isinstance(r, str) else r
                         for r in data["roles"]]
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validate(ExperimentConfig, data, str(path), node)
