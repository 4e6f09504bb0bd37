"""The saved router's manifest: its schema, its limits, and strict JSON in and out.

:class:`~langchain_benchrouter.core.artifact.Manifest` is checked on save and on load:
types, ranges, finite numbers, unique names, no unknown keys. The JSON parser refuses
NaN, infinities and nesting deeper than :data:`MAX_JSON_DEPTH` (checked without
recursion), so a hostile manifest cannot run code or allocate without bound.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from langchain_benchrouter.errors import ArtifactError

__all__ = [
    "ALLOWED_DTYPES",
    "ARRAY_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_ARRAY_ELEMENTS",
    "ArrayInfo",
    "Manifest",
    "parse_json",
    "plain_json",
    "validate_manifest",
]

FORMAT = "langchain-benchrouter/router"
FORMAT_VERSION = 1
#: dtypes an artifact may contain (object and void dtypes could carry pickles).
ALLOWED_DTYPES = frozenset({"float16", "float32", "float64", "int64", "int32", "bool"})
#: Upper bound on one array's element count (checked from its header, before allocation).
MAX_ARRAY_ELEMENTS = 2**33
#: Deepest nesting of JSON arrays/objects a manifest may have.
MAX_JSON_DEPTH = 32
#: Upper bound on model, task, metric and vocabulary names.
MAX_NAME_CHARS = 1024
#: Upper bound on the embedding dimension.
MAX_DIMENSION = 65_536
#: Array names: plain identifiers (they become zip member names ``<name>.npy``).
ARRAY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
#: model_info keys that must be non-negative finite numbers (or null) when present.
_NON_NEGATIVE_INFO = ("input_price", "output_price", "cost_per_call", "latency_s")

# --------------------------------------------------------------------------- schema

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Name = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME_CHARS)]
NonNegative = Annotated[float, Field(ge=0.0)]
Count = Annotated[StrictInt, Field(ge=1, le=10**7)]


def _not_blank(names: list[str | None]) -> list[str | None]:
    if any(n is not None and not n.strip() for n in names):
        msg = "names must not be empty or whitespace"
        raise ValueError(msg)
    return names


def _unique(names: list[str]) -> list[str]:
    _not_blank(list(names))
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:3]
        msg = f"names must be unique, {dup} repeat"
        raise ValueError(msg)
    return names


class _MLPParams(BaseModel):
    """The MLP predictor's hyperparameters (``predictor_params``; also in a fitted MLP's state)."""

    model_config = _STRICT
    hidden: Annotated[list[Count], Field(min_length=2, max_length=2)] | None = None
    epochs: Annotated[StrictInt, Field(ge=0, le=10**6)] | None = None
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] | None = None
    weight_decay: Annotated[float, Field(ge=0.0, le=10.0)] | None = None
    batch_size: Count | None = None
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    random_state: StrictInt | None = None


class _Params(BaseModel):
    """The router's constructor parameters (see ``Router._validate_params``)."""

    model_config = _STRICT
    k: Count = 5
    predictor: Literal["knn", "mlp"] = "knn"
    predictor_params: _MLPParams = Field(default_factory=_MLPParams)
    descriptor_neighbors: Count = 19
    bandwidth: Annotated[float, Field(gt=0.0, le=1e6)] = 0.09
    shrink_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.6
    correctness_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    tie_break: Annotated[float, Field(ge=0.0, le=1e6)] = 0.01
    index_dtype: Literal["float32", "float16"] = "float32"
    approximate_above: Annotated[StrictInt, Field(ge=1)] | None = None
    lexical: StrictBool = True


class _Calibration(BaseModel):
    model_config = _STRICT
    task_k: Count
    task_prior: Annotated[float, Field(ge=0.0, le=1e9)]
    delta: Annotated[float, Field(ge=0.0, le=1.0)]
    a0: Annotated[float, Field(ge=0.0, le=1e9)]
    delta_labeled: Annotated[float, Field(ge=0.0, le=1.0)]
    route_k: Count
    route_prior: Annotated[float, Field(ge=0.0, le=1e9)]


class _Predictor(_MLPParams):
    """A fitted predictor's state: its kind, k for kNN, the MLP's hyperparameters and depth."""

    kind: Literal["knn", "mlp"]
    k: Count | None = None
    n_layers: Annotated[StrictInt, Field(ge=1, le=64)] | None = None
    calibration: _Calibration | None = None

    @model_validator(mode="after")
    def _knn_has_k(self) -> _Predictor:
        if self.kind == "knn" and self.k is None:
            msg = "a knn predictor needs k"
            raise ValueError(msg)
        return self


def _plain_name(name: str) -> str:
    if not name.isprintable():
        msg = "the embedder name must be printable text"
        raise ValueError(msg)
    if name.startswith("hashing-") and not re.fullmatch(r"hashing-[1-9][0-9]{0,5}", name):
        msg = "a hashing embedder name is 'hashing-<dimension>'"
        raise ValueError(msg)
    return name


class _Embedder(BaseModel):
    model_config = _STRICT
    name: Annotated[StrictStr, Field(min_length=1, max_length=512), AfterValidator(_plain_name)]
    dimension: Annotated[StrictInt, Field(ge=1, le=MAX_DIMENSION)]

    @model_validator(mode="after")
    def _hashing_dimension(self) -> _Embedder:
        if self.name.startswith("hashing-") and int(self.name[8:]) != self.dimension:
            msg = f"embedder {self.name!r} has dimension {self.name[8:]}, not {self.dimension}"
            raise ValueError(msg)
        return self


class _Lexical(BaseModel):
    """The lexical correction's parameters (``LexicalResidualModel.from_state`` checks presence)."""

    model_config = _STRICT
    alpha: Annotated[float, Field(ge=0.0)] | None = None
    margin: float | None = None
    tuning_gain: float | None = None
    vocabulary: list[Name] | None = None


def _model_info(info: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for model, fields in info.items():
        for key in _NON_NEGATIVE_INFO:
            value = fields.get(key)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                msg = f"{key} of model {model!r} must be a non-negative finite number or null"
                raise ValueError(msg)
    return info


def _sub(schema: type[BaseModel]) -> AfterValidator:
    """Validate a dict field against ``schema`` but keep the plain dict (Router.load reads it)."""

    def check(value: dict[str, Any]) -> dict[str, Any]:
        try:
            schema.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "(value)"
            msg = f"{where}: {err['msg']}"
            raise ValueError(msg) from None
        return value

    return AfterValidator(check)


class ArrayInfo(BaseModel):
    """Declared dtype and shape of one stored array."""

    model_config = ConfigDict(extra="forbid", strict=True)
    dtype: Literal["float16", "float32", "float64", "int64", "int32", "bool"]
    shape: Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(max_length=32)]

    @model_validator(mode="after")
    def _bounded(self) -> ArrayInfo:
        if math.prod(self.shape) > MAX_ARRAY_ELEMENTS:
            msg = f"shape {self.shape} exceeds {MAX_ARRAY_ELEMENTS} elements"
            raise ValueError(msg)
        return self


class Manifest(BaseModel):
    """The JSON metadata of a saved router (schema-checked on save and on load).

    The ``params``, ``predictor``, ``embedder``, ``lexical`` and ``model_info`` fields stay
    plain dicts for :meth:`Router.load`, but each is checked against a strict schema:
    types, ranges, finite numbers, no unknown keys.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    format: Literal["langchain-benchrouter/router"]
    format_version: Literal[1]
    library_version: Annotated[StrictStr, Field(max_length=100)]
    params: Annotated[dict[str, Any], _sub(_Params)]
    predictor: Annotated[dict[str, Any], _sub(_Predictor)]
    embedder: Annotated[dict[str, Any], _sub(_Embedder)]
    models: Annotated[list[Name], Field(min_length=1), AfterValidator(_unique)]
    tasks: Annotated[list[Name], AfterValidator(_unique)]
    task_metrics: Annotated[list[Name | None], AfterValidator(_not_blank)] | None = None
    lexical: Annotated[dict[str, Any], _sub(_Lexical)] | None = None
    model_info: Annotated[dict[Name, dict[Name, Any]], AfterValidator(_model_info)]
    score_threshold: float = Field(gt=0.0, le=1.0)
    arrays: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")], ArrayInfo]
    sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        kind = self.params.get("predictor", "knn")
        if self.predictor["kind"] != kind:
            msg = f"predictor kind {self.predictor['kind']!r} but params say {kind!r}"
            raise ValueError(msg)
        if kind == "knn" and self.predictor["k"] != self.params.get("k", 5):
            msg = f"predictor k {self.predictor['k']} differs from params k"
            raise ValueError(msg)
        if self.task_metrics is not None and len(self.task_metrics) != len(self.tasks):
            msg = (
                f"task_metrics has {len(self.task_metrics)} entries for {len(self.tasks)} "
                "tasks (one name or null per task)"
            )
            raise ValueError(msg)
        if unknown := sorted(set(self.model_info) - set(self.models))[:3]:
            msg = f"model_info names models {unknown} that are not in models"
            raise ValueError(msg)
        return self


# --------------------------------------------------------------------------- JSON


def _json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        msg = f"number {text[:20]!r} overflows to infinity"
        raise ValueError(msg)
    return value


def _no_constant(name: str) -> Any:
    msg = f"{name} is not a number the manifest may hold"
    raise ValueError(msg)


def parse_json(data: bytes, where: str) -> Any:
    """Parse manifest bytes: UTF-8, finite numbers only, at most :data:`MAX_JSON_DEPTH` deep.

    Raises:
        ArtifactError: not such JSON (``where`` names the file in the message).
    """
    too_deep = f"{where}: JSON nested too deeply (at most {MAX_JSON_DEPTH} levels allowed)"
    try:
        raw = json.loads(
            data.decode("utf-8"), parse_float=_finite_float, parse_constant=_no_constant
        )
    except RecursionError as exc:
        raise ArtifactError(too_deep) from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN, huge integers
        msg = f"{where}: not valid JSON ({exc}); the artifact is corrupted"
        raise ArtifactError(msg) from exc
    if _json_depth(raw) > MAX_JSON_DEPTH:
        raise ArtifactError(too_deep)
    return raw


def validate_manifest(raw: Any, where: str) -> Manifest:
    """The parsed manifest ``raw`` checked against the format, its version and the schema.

    Raises:
        ArtifactError: another format or version, or the first schema violation.
    """
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        msg = f"{where}: not a langchain-benchrouter router (format {FORMAT!r} expected)"
        raise ArtifactError(msg)
    if raw.get("format_version") != FORMAT_VERSION:
        msg = (
            f"{where}: router format version {raw.get('format_version')!r} is not "
            f"supported by this library (it reads version {FORMAT_VERSION}); "
            "refit and save the router again"
        )
        raise ArtifactError(msg)
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        at = f" at {loc!r}" if loc else ""
        msg = f"{where}: invalid manifest{at}: {first['msg'].removeprefix('Value error, ')}"
        raise ArtifactError(msg) from exc
    except RecursionError as exc:  # pragma: no cover - depth is bounded above
        msg = f"{where}: manifest nested too deeply"
        raise ArtifactError(msg) from exc


def plain_json(value: Any) -> Any:
    """``json.dumps`` default: numpy scalars become Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    msg = f"{type(value).__name__} is not JSON serializable"
    raise TypeError(msg)
