"""Profile a sample of a data file with Spark into a plain dict (the input of every decision).

Spark reads every column as text (as ingest does), takes a sample, and computes per column:
blank and distinct counts, how many values parse as numbers (and integers) or timestamps, the
number range, and the value counts (split by target class for a classifier), from which the
missing-looking words (``unknown``, ``?``) are counted. Only counts reach the driver; ``mlplatform.onboarding.infer`` decides from them, so
the decisions are testable without a JVM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplatform.onboarding.infer import EXACT_VALUES_MAX, MISSING_TOKENS, infer_task

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# The number and timestamp shapes validation accepts (``mlplatform.data.validation``).
NUMBER_REGEX = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
TIMESTAMP_REGEX = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
DEFAULT_SAMPLE_ROWS = 20_000


def source_format(path: str) -> str:
    """``csv``, ``parquet`` or ``json`` from the file (or folder) name; CSV unless told otherwise."""
    lowered = path.lower().rstrip("/")
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    if lowered.endswith((".json", ".jsonl", ".ndjson")):
        return "json"
    return "csv"


def read_sample(
    spark: SparkSession, uri: str, fmt: str, *, sample_rows: int, options: dict[str, str] | None = None
) -> tuple[DataFrame, int, dict[str, str]]:
    """A sample of at most ``sample_rows`` rows, every column as text; also the file's row count and
    its column types as Spark reads them (all ``string`` for CSV: nothing is inferred)."""
    from pyspark.sql import functions as F

    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.options(header="true", **(options or {}))
    elif options:
        reader = reader.options(**options)
    raw = reader.load(uri)
    types = {f.name: f.dataType.simpleString() for f in raw.schema.fields}
    frame = raw.select(*[F.col(f"`{c}`").cast("string").alias(c) for c in raw.columns])
    total = frame.count()
    if total > sample_rows:
        frame = frame.sample(fraction=min(1.0, 1.2 * sample_rows / total), seed=7).limit(sample_rows)
    return frame, total, types


def _text(name: str) -> Column:
    from pyspark.sql import functions as F

    trimmed = F.trim(F.col(f"`{name}`"))
    return F.when(trimmed != "", trimmed)


def _number(name: str) -> Column:
    from pyspark.sql import functions as F

    text = _text(name)
    return F.when(text.rlike(NUMBER_REGEX), text.try_cast("double"))


def collect_profile(
    df: DataFrame, target: str, *, file_rows: int, types: dict[str, str], uri: str, fmt: str
) -> dict[str, Any]:
    """The profile dict of a sample (see the module docstring); ``target`` must be a column."""
    from pyspark.sql import functions as F

    if target not in df.columns:
        raise ValueError(f"--target '{target}' is not a column of {uri}; it has {df.columns}")
    df = df.cache()
    names = list(df.columns)
    exprs = [F.count(F.lit(1)).alias("_rows")]
    for i, name in enumerate(names):
        text, number = _text(name), _number(name)
        exprs += [
            F.count(text).alias(f"present_{i}"),
            F.count_distinct(text).alias(f"distinct_{i}"),
            F.count(number).alias(f"numeric_{i}"),
            F.count(F.when(number == F.floor(number), 1)).alias(f"integral_{i}"),
            F.min(number).alias(f"min_{i}"),
            F.max(number).alias(f"max_{i}"),
            F.avg(number).alias(f"mean_{i}"),
            F.stddev(number).alias(f"stddev_{i}"),
            F.count(F.when(text.rlike(TIMESTAMP_REGEX), 1)).alias(f"timestamps_{i}"),
        ]
    stats = df.agg(*exprs).first().asDict()
    rows = int(stats["_rows"])
    columns: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        present = int(stats[f"present_{i}"])
        columns.append(
            {
                "name": name,
                "spark_type": types.get(name, "string"),
                "present": present,
                "blank": rows - present,
                "distinct": int(stats[f"distinct_{i}"]),
                "numeric": int(stats[f"numeric_{i}"]),
                "integral": int(stats[f"integral_{i}"]),
                "min": stats[f"min_{i}"],
                "max": stats[f"max_{i}"],
                "mean": stats[f"mean_{i}"],
                "stddev": stats[f"stddev_{i}"],
                "timestamps": int(stats[f"timestamps_{i}"]),
            }
        )
    by_name = {c["name"]: c for c in columns}
    profile: dict[str, Any] = {
        "source": {"uri": uri, "format": fmt},
        "file_rows": file_rows,
        "rows": rows,
        "duplicate_rows": rows - df.distinct().count(),
        "target": target,
        "columns": columns,
    }
    _value_counts(df, profile, by_name)
    for column in columns:
        tokens: dict[str, int] = {}
        for value, n in (column["counts"] or {}).items():
            if value.strip().lower() in MISSING_TOKENS:
                tokens[value.strip().lower()] = tokens.get(value.strip().lower(), 0) + n
        column["tokens"] = tokens
    task = infer_task(by_name[target])[0]
    profile["task"] = task
    if task == "regression":
        _spearman(df, profile, by_name)
    df.unpersist()
    return profile


def _value_key(column: dict[str, Any]) -> tuple[Column | None, bool]:
    """How a column's values are counted: exactly (few distinct values), numbers to 4 significant
    digits and other text as is (many distinct numbers: ordering, sentinels and missing-looking
    words survive), or not at all (free text)."""
    from pyspark.sql import functions as F

    name = column["name"]
    if column["distinct"] <= EXACT_VALUES_MAX:
        return _text(name), False
    if column["present"] and column["numeric"] >= 0.9 * column["present"]:
        rounded = F.format_string("%.4g", _number(name)).try_cast("double")
        whole = (rounded == F.floor(rounded)) & (F.abs(rounded) < 1e15)  # -1, not -1.0
        number = F.when(whole, rounded.cast("long").cast("string")).otherwise(rounded.cast("string"))
        return F.coalesce(number, _text(name)), True
    return None, False


def _value_counts(df: DataFrame, profile: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> None:
    """``counts`` per column and, when the target has few values, ``by_class`` (value → class → n)."""
    from pyspark.sql import functions as F

    target = by_name[profile["target"]]
    classify = target["distinct"] <= EXACT_VALUES_MAX
    keys: list[tuple[str, Column]] = []
    for column in profile["columns"]:
        key, binned = _value_key(column)
        column["binned"] = binned
        column["counts"] = {} if key is not None else None
        if key is not None:
            keys.append((column["name"], key))
    if not keys:
        return
    stacked = F.explode(
        F.array(*[F.struct(F.lit(n).alias("c"), k.alias("v")) for n, k in keys]),
    )
    label = _text(profile["target"]) if classify else F.lit(None).cast("string")
    rows = (
        df.select(stacked.alias("cv"), label.alias("y"))
        .where(F.col("cv.v").isNotNull())
        .groupBy(F.col("cv.c").alias("c"), F.col("cv.v").alias("v"), "y")
        .count()
        .collect()
    )
    for column in profile["columns"]:
        if column["counts"] is not None and classify:
            column["by_class"] = {}
    for row in rows:
        column = by_name[row["c"]]
        column["counts"][row["v"]] = column["counts"].get(row["v"], 0) + int(row["count"])
        if classify and row["y"] is not None:
            column["by_class"].setdefault(row["v"], {})[row["y"]] = int(row["count"])


def _spearman(df: DataFrame, profile: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> None:
    """|Spearman| of each column with a numeric target: numbers by value, categories by their
    mean target rank (the regression form of a single-feature AUC)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    def avg_rank(col: str) -> Column:
        return F.rank().over(Window.orderBy(col)) + (F.count("*").over(Window.partitionBy(col)) - 1) / 2

    y = _number(profile["target"])
    for column in profile["columns"]:
        name = column["name"]
        if name == profile["target"] or column["present"] == 0:
            continue
        numeric = column["numeric"] >= 0.9 * column["present"]
        if not numeric and column["counts"] is None:
            continue
        x = _number(name) if numeric else _text(name)
        frame = df.select(x.alias("x"), y.alias("y")).where("x IS NOT NULL AND y IS NOT NULL")
        frame = frame.withColumn("ry", avg_rank("y"))
        if not numeric:
            frame = frame.withColumn("x", F.avg("ry").over(Window.partitionBy("x")))
        rho = frame.withColumn("rx", avg_rank("x")).agg(F.corr("rx", "ry")).first()[0]
        column["spearman"] = None if rho is None else round(float(rho), 4)


def profile_file(spark: SparkSession, uri: str, target: str, *, sample_rows: int) -> dict[str, Any]:
    """Read a sample of ``uri`` and profile it (the one entry point ``spec init`` calls)."""
    fmt = source_format(uri)
    df, total, types = read_sample(spark, uri, fmt, sample_rows=sample_rows)
    return collect_profile(df, target, file_rows=total, types=types, uri=uri, fmt=fmt)
