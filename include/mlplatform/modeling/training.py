"""XGBoost training (single-node or on Spark with ``xgboost.spark``) for every task type.

``train_model`` picks the path by the size of the train split: up to
``Settings.single_node_max_rows`` rows it collects the features to the driver and runs plain
``xgboost.train``; larger splits train with ``SparkXGBClassifier`` (binary, multiclass) or
``SparkXGBRegressor`` on ``xgb_num_workers`` workers. The objective and evaluation metric come
from the spec's task (``mlplatform.config.tasks``).
Both paths use the same native parameters (``native_params``), the same deterministic validation
split for early stopping and the same row order, and both return the booster as UBJSON bytes cut
to its best iteration, with the fitted feature names. Evaluation and scoring use that same
booster, so the evaluated model is exactly the registered one.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlplatform.config.specs import ModelSpec
from mlplatform.config.tasks import task_named
from mlplatform.core.errors import ConfigError, DataProblem
from mlplatform.modeling.booster import BOOSTER_FORMAT

if TYPE_CHECKING:
    import numpy as np
    import xgboost as xgb
    from pyspark.sql import DataFrame

    from mlplatform.config.settings import Settings

DEFAULT_PARAMS: dict[str, Any] = {"n_estimators": 100, "max_depth": 6, "learning_rate": 0.1}
SINGLE_NODE, DISTRIBUTED = "single_node", "distributed"
TrainingPath = Literal["single_node", "distributed"]
VALIDATION_COL = "_is_validation"
VALIDATION_BUCKETS = 10_000

# sklearn-style name (XGBClassifier, SparkXGBClassifier) -> native name (xgboost.train).
# ``n_estimators`` is no booster parameter: natively it is the ``num_boost_round`` argument.
SKLEARN_TO_NATIVE: dict[str, str] = {
    "n_estimators": "num_boost_round",
    "learning_rate": "eta",
    "random_state": "seed",
    "reg_alpha": "alpha",
    "reg_lambda": "lambda",
    "n_jobs": "nthread",
}
NATIVE_TO_SKLEARN: dict[str, str] = {v: k for k, v in SKLEARN_TO_NATIVE.items()}
# Native aliases of another native name.
NATIVE_ALIASES: dict[str, str] = {"min_split_loss": "gamma"}
# Set by the platform for every model of a task; a spec may not change them.
FIXED_PARAM_NAMES = ("objective", "eval_metric", "num_class")
PLATFORM_DEFAULTS: dict[str, Any] = {"tree_method": "hist"}
# Not booster parameters, or owned by the spec's training section / the platform.
REJECTED_PARAMS: dict[str, str] = {
    "early_stopping_rounds": "set training.early_stopping_rounds instead",
    "num_workers": "set MLP_XGB_NUM_WORKERS instead",
    "missing": "missing values are always NaN",
}


class TrainingDataError(DataProblem, ValueError):
    """The training data cannot train a model (empty split, one class only, a constant target)."""


class TrainingConfigError(ConfigError):
    """The spec's training parameters conflict or name something the platform owns."""


def xgb_params(spec: ModelSpec) -> dict[str, Any]:
    """The spec's parameters over the defaults, as written (sklearn-style); kept for lineage."""
    params = {**DEFAULT_PARAMS, **spec.training.params}
    params.setdefault("random_state", spec.training.seed)
    return params


def _to_native(params: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in params.items():
        if key in REJECTED_PARAMS:
            raise TrainingConfigError(f"{where}: parameter '{key}' is not allowed; {REJECTED_PARAMS[key]}")
        name = SKLEARN_TO_NATIVE.get(key, NATIVE_ALIASES.get(key, key))
        if name in out:
            raise TrainingConfigError(f"{where}: parameters '{origin[name]}' and '{key}' both set '{name}'")
        out[name], origin[name] = value, key
    return out


def fixed_params(spec: ModelSpec) -> dict[str, Any]:
    """The parameters the task fixes: objective, eval metric and (multiclass) the class count."""
    task = task_named(spec.task)
    fixed: dict[str, Any] = {"objective": task.objective, "eval_metric": task.eval_metric}
    if spec.task == "multiclass":
        fixed["num_class"] = len(spec.columns.classes or [])
    return fixed


def native_params(
    spec: ModelSpec, *, rows: int | None = None, positives: int | None = None
) -> dict[str, Any]:
    """The native ``xgboost.train`` parameters for a spec, plus ``num_boost_round``.

    Spec parameters may use sklearn names (``SKLEARN_TO_NATIVE``) or native ones; they override
    ``DEFAULT_PARAMS`` and ``tree_method=hist``; the task fixes ``objective``/``eval_metric`` (and
    ``num_class``) and the seed defaults to ``training.seed``. ``scale_pos_weight`` comes from the spec when given, else
    (with ``training.auto_scale_pos_weight``) negatives/positives of the train split.
    """
    where = f"model '{spec.name}' training.params"
    params = {**PLATFORM_DEFAULTS, **_to_native(DEFAULT_PARAMS, "DEFAULT_PARAMS")}
    params.update(_to_native(dict(spec.training.params), where))
    for key, value in fixed_params(spec).items():
        if params.get(key, value) != value:
            raise TrainingConfigError(f"{where}: '{key}' must be {value!r}, got {params[key]!r}")
        params[key] = value
    params.setdefault("seed", spec.training.seed)
    params.pop("nthread", None)  # the platform sets threads per path
    params["num_boost_round"] = int(params["num_boost_round"])
    if "num_class" in params and spec.task != "multiclass":
        raise TrainingConfigError(f"{where}: 'num_class' applies to multiclass models only")
    if "scale_pos_weight" not in params and spec.training.auto_scale_pos_weight:
        if rows is None or positives is None:
            raise ValueError("auto_scale_pos_weight needs the train split's rows and positives")
        params["scale_pos_weight"] = computed_scale_pos_weight(rows, positives)
    return dict(sorted(params.items()))


def computed_scale_pos_weight(rows: int, positives: int) -> float:
    """negatives / positives (XGBoost's suggested ``scale_pos_weight`` for imbalanced classes)."""
    if positives <= 0:
        raise TrainingDataError("scale_pos_weight needs at least one positive row")
    return float(rows - positives) / float(positives)


def sklearn_params(native: dict[str, Any]) -> dict[str, Any]:
    """Native parameters renamed for ``SparkXGBClassifier``/``Regressor`` (``num_boost_round`` →
    ``n_estimators``).

    ``objective`` and ``num_class`` are left out: the classifier sets ``binary:logistic`` or
    ``multi:softprob`` (with the class count) itself from the labels and refuses a custom one.
    """
    return {NATIVE_TO_SKLEARN.get(k, k): v for k, v in native.items() if k not in ("objective", "num_class")}


def check_training_data(train: DataFrame, spec: ModelSpec, table: str) -> dict[str, Any]:
    """Row and class counts of the training split; a clear error when it cannot train.

    Binary needs both classes, multiclass at least two of its classes, regression a target that
    is not constant. ``positives`` counts binary positives (0 for the other tasks).
    """
    from pyspark.sql import functions as F

    target, model = spec.columns.target, spec.name
    if spec.task == "regression":
        row = train.agg(F.count("*").alias("n"), F.stddev_pop("label").alias("sd")).first()
        n = int(row["n"] or 0)
        if n == 0:
            raise TrainingDataError(f"table {table}: no training rows for model '{model}'")
        if not row["sd"]:
            raise TrainingDataError(
                f"table {table}: column '{target}' is constant in the training split ({n} rows); "
                f"regression model '{model}' needs a target that varies"
            )
        return {"rows": n, "positives": 0}
    counts = {int(r["label"]): int(r["count"]) for r in train.groupBy("label").count().collect()}
    n = sum(counts.values())
    if n == 0:
        raise TrainingDataError(f"table {table}: no training rows for model '{model}'")
    if spec.task == "multiclass":
        classes = list(spec.columns.classes or [])
        by_class = {classes[i]: c for i, c in sorted(counts.items())}
        if len(by_class) < 2:
            raise TrainingDataError(
                f"table {table}: column '{target}' has a single class in the training split "
                f"({by_class}); multiclass model '{model}' needs at least two"
            )
        return {"rows": n, "positives": 0, "class_counts": by_class}
    pos = counts.get(1, 0)
    if pos == 0 or pos == n:
        raise TrainingDataError(
            f"table {table}: column '{target}' has a single class in the training split "
            f"({pos} positive of {n}); model '{model}' needs both classes"
        )
    return {"rows": n, "positives": pos}


def choose_path(rows: int, settings: Settings) -> TrainingPath:
    """Single-node up to ``settings.single_node_max_rows`` train rows, distributed above."""
    return SINGLE_NODE if rows <= settings.single_node_max_rows else DISTRIBUTED


def driver_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def validation_column(spec: ModelSpec, id_col: str = "entity_id") -> Any:
    """True for the rows of the train split held out for early stopping (hash of id and seed)."""
    from pyspark.sql import functions as F

    bucket = F.pmod(
        F.xxhash64(F.col(id_col).cast("string"), F.lit("validation"), F.lit(spec.training.seed)),
        F.lit(VALIDATION_BUCKETS),
    )
    return bucket < F.lit(int(spec.training.validation_fraction * VALIDATION_BUCKETS))


@dataclass
class TrainResult:
    """A trained booster and how it was trained (everything needed to train it again)."""

    booster_raw: bytes
    path: TrainingPath
    rows: int
    positives: int
    best_iteration: int
    params: dict[str, Any]
    seconds: float
    feature_names: list[str] = field(default_factory=list)
    early_stopping_rounds: int | None = None
    validation_fraction: float = 0.0
    validation_rows: int = 0
    num_trees: int = 0
    nthread: int | None = None
    num_workers: int | None = None
    task: str = "binary"
    class_counts: dict[str, int] | None = None

    def record(self) -> dict[str, Any]:
        """JSON-able description (no booster bytes) for lineage, XCom and the registry."""
        out = asdict(self)
        out.pop("booster_raw")
        out["seconds"] = round(self.seconds, 3)
        return out


def train_model(
    train_df: DataFrame,
    spec: ModelSpec,
    settings: Settings,
    feature_names: list[str],
    *,
    table: str = "training split",
    path: TrainingPath | None = None,
    nthread: int | None = None,
    num_workers: int | None = None,
    id_col: str = "entity_id",
) -> TrainResult:
    """Train on the train split (features, ``label``, ``id_col``); single-node or distributed.

    ``path``, ``nthread`` and ``num_workers`` override the choice from ``settings`` (reproducing a
    recorded run). Rows are put in a fixed order (by ``id_col``, then ``_row_id``) before training,
    so the same data, parameters and path give the same booster.
    """
    from pyspark.sql import functions as F

    t0 = time.monotonic()
    counts = check_training_data(train_df, spec, table)
    rows, positives = counts["rows"], counts["positives"]
    chosen: TrainingPath = path or choose_path(rows, settings)
    if chosen not in (SINGLE_NODE, DISTRIBUTED):
        raise ValueError(f"unknown training path '{chosen}'")
    params = native_params(spec, rows=rows, positives=positives)
    names = list(feature_names)
    order = [id_col, *(["_row_id"] if "_row_id" in train_df.columns else [])]
    frame = train_df.select(*order, F.col("label").cast("double").alias("label"), *names)
    stopping = spec.training.early_stopping_rounds
    frame = frame.withColumn(VALIDATION_COL, validation_column(spec, id_col) if stopping else F.lit(False))
    result = TrainResult(
        booster_raw=b"",
        path=chosen,
        rows=rows,
        positives=positives,
        best_iteration=-1,
        params=params,
        seconds=0.0,
        feature_names=names,
        early_stopping_rounds=stopping,
        validation_fraction=spec.training.validation_fraction if stopping else 0.0,
        task=spec.task,
        class_counts=counts.get("class_counts"),
    )
    if chosen == SINGLE_NODE:
        result.nthread = int(nthread or settings.single_node_nthread or driver_cores())
        booster = _train_single_node(frame, order, names, params, stopping, result)
    else:
        result.num_workers = int(num_workers or settings.xgb_num_workers)
        booster = _train_on_spark(frame, order, names, params, stopping, result)
    _finish(booster, names, result)
    result.seconds = time.monotonic() - t0
    return result


def _train_single_node(
    frame: DataFrame,
    order: list[str],
    names: list[str],
    params: dict[str, Any],
    stopping: int | None,
    result: TrainResult,
) -> xgb.Booster:
    import numpy as np
    import xgboost as xgb

    pdf = frame.toPandas().sort_values(order, kind="mergesort").reset_index(drop=True)
    valid = pdf[VALIDATION_COL].to_numpy(dtype=bool)
    X = pdf[names].to_numpy(dtype=np.float64)
    y = pdf["label"].to_numpy(dtype=np.float64)
    result.validation_rows = int(valid.sum())
    booster_params = {k: v for k, v in params.items() if k != "num_boost_round"}
    booster_params["nthread"] = result.nthread

    def matrix(mask: np.ndarray) -> xgb.DMatrix:
        return xgb.DMatrix(
            X[mask], label=y[mask], feature_names=names, missing=np.nan, nthread=result.nthread
        )

    use_stopping = bool(stopping) and 0 < result.validation_rows < len(y)
    dtrain = matrix(~valid) if use_stopping else matrix(np.ones(len(y), dtype=bool))
    evals = [(matrix(valid), "validation")] if use_stopping else []
    if not use_stopping:
        result.early_stopping_rounds, result.validation_rows = None, 0
    return xgb.train(
        booster_params,
        dtrain,
        num_boost_round=params["num_boost_round"],
        evals=evals,
        early_stopping_rounds=stopping if use_stopping else None,
        verbose_eval=False,
    )


def _train_on_spark(
    frame: DataFrame,
    order: list[str],
    names: list[str],
    params: dict[str, Any],
    stopping: int | None,
    result: TrainResult,
) -> xgb.Booster:
    from pyspark.sql import functions as F
    from xgboost.spark import SparkXGBClassifier, SparkXGBRegressor

    workers = int(result.num_workers or 1)
    # Hash partitioning by id and a sort inside each partition: every worker sees the same rows in
    # the same order on every run (xgboost.spark keeps partitions that match num_workers).
    data = frame.repartition(workers, F.col(order[0])).sortWithinPartitions(*order).cache()
    try:
        result.validation_rows = int(data.where(F.col(VALIDATION_COL)).count()) if stopping else 0
        use_stopping = bool(stopping) and 0 < result.validation_rows < result.rows
        kwargs: dict[str, Any] = {}
        if use_stopping:
            kwargs = {"validation_indicator_col": VALIDATION_COL, "early_stopping_rounds": stopping}
        else:
            result.early_stopping_rounds, result.validation_rows = None, 0
        estimator = SparkXGBRegressor if result.task == "regression" else SparkXGBClassifier
        classifier = estimator(
            features_col=names,
            label_col="label",
            num_workers=workers,
            missing=float("nan"),
            verbose=False,
            **kwargs,
            **sklearn_params(params),
        )
        model = classifier.fit(data)
    finally:
        data.unpersist()
    return model.get_booster()


def _finish(booster: xgb.Booster, names: list[str], result: TrainResult) -> None:
    """Cut the booster to its best iteration and store it as UBJSON with the feature names."""
    total = booster.num_boosted_rounds()
    best = total - 1
    if result.early_stopping_rounds:
        attr = booster.attr("best_iteration")
        best = int(attr) if attr is not None else total - 1
    if best + 1 < total:
        booster = booster[: best + 1]
    for key in list(booster.attributes()):
        booster.set_attr(**{key: None})
    booster.feature_names = list(names)
    booster.feature_types = None
    booster.set_attr(best_iteration=str(best))
    result.best_iteration = best
    result.num_trees = booster.num_boosted_rounds()
    result.booster_raw = bytes(booster.save_raw(raw_format=BOOSTER_FORMAT))
