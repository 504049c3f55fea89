"""Declarative features: bucketize/date_part, one-hot and target encodings, point-in-time aggregates."""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplatform.config.specs import ModelSpec, SpecError, load_spec
from mlplatform.features.engineering import apply_features, fit_feature_state, output_feature_names

pytestmark = pytest.mark.spark

DDL = (
    "_row_id string, event_id string, account string, ts string, signup_at string, "
    "amount double, channel string, y string, _label double"
)
BASE: dict[str, Any] = {
    "name": "events_demo",
    "source": {"training": {"path": "a.csv"}, "scoring": {"path": "b.csv"}},
    "columns": {
        "id": "event_id",
        "entity": "account",
        "event_time": "ts",
        "timestamps": ["signup_at"],
        "target": "y",
        "numeric": ["amount"],
        "categorical": ["channel"],
    },
    "features": {"numeric_impute": "none"},
}
T0 = datetime(2024, 1, 1)


def _spec(**features: Any) -> ModelSpec:
    raw = copy.deepcopy(BASE)
    raw["features"].update(features)
    return ModelSpec.model_validate(raw)


def _frame(spark, rows: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """Rows as dicts (missing keys are null); ``ts`` may be a datetime."""
    out = []
    for i, r in enumerate(rows):
        ts = r.get("ts")
        ts = ts.strftime("%Y-%m-%d %H:%M:%S") if isinstance(ts, datetime) else ts
        label = r.get("label")
        out.append(
            (
                r.get("row", f"r{i}"),
                r.get("id", f"e{i}"),
                r.get("account"),
                ts,
                r.get("signup_at"),
                r.get("amount"),
                r.get("channel"),
                None if label is None else str(int(label)),
                None if label is None else float(label),
            )
        )
    return spark.createDataFrame(out, DDL)


def _vectors(df, names: list[str]) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    return {r["_row_id"]: [r[n] for n in names] for r in df.collect()}


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)


def _assert_same_vectors(a: list[float], b: list[float]) -> None:
    assert len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True)), (a, b)


# --- bucketize and date_part --------------------------------------------------------------------


def test_bucketize_and_date_part_values(spark) -> None:  # type: ignore[no-untyped-def]
    derived = [{"name": "amount_bucket", "op": "bucketize", "inputs": ["amount"], "boundaries": [0, 10, 100]}]
    for part in ("year", "month", "dayofweek", "dayofmonth", "hour"):
        derived.append({"name": f"signup_{part}", "op": "date_part", "inputs": ["signup_at"], "part": part})
    derived.append({"name": "event_hour", "op": "date_part", "inputs": ["ts"], "part": "hour"})
    spec = _spec(derived=derived)
    amounts = [-5.0, 0.0, 9.99, 10.0, 99.0, 100.0, 1000.0, None]
    rows = [{"amount": a, "signup_at": "2024-03-05 13:45:00", "ts": "2024-01-01 07:00:00"} for a in amounts]
    rows.append({"signup_at": "not a date", "ts": None})
    rows.append({"signup_at": "2023-12-31"})  # a date alone is midnight
    df = _frame(spark, rows)
    state = fit_feature_state(df, spec)
    feats = {r["_row_id"]: r for r in apply_features(df, spec, state, with_split=False).collect()}
    buckets = [feats[f"r{i}"]["amount_bucket"] for i in range(len(amounts))]
    assert buckets[:-1] == [0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    assert math.isnan(buckets[-1])  # missing stays missing
    r0 = feats["r0"]
    assert (r0["signup_year"], r0["signup_month"], r0["signup_dayofmonth"], r0["signup_hour"]) == (
        2024.0,
        3.0,
        5.0,
        13.0,
    )
    assert r0["signup_dayofweek"] == 3.0  # Tuesday; Spark counts Sunday as 1
    assert r0["event_hour"] == 7.0
    bad = feats[f"r{len(amounts)}"]
    assert all(math.isnan(bad[f"signup_{p}"]) for p in ("year", "month", "hour")) and math.isnan(
        bad["event_hour"]
    )
    midnight = feats[f"r{len(amounts) + 1}"]
    assert (midnight["signup_year"], midnight["signup_dayofweek"], midnight["signup_hour"]) == (
        2023.0,
        1.0,
        0.0,
    )


# --- categorical encodings ----------------------------------------------------------------------

# (channel, label): web 3x, "in store" 2x, "app-v2" and "other" once each, and a null channel.
TRAIN_CATS = [("web", 1), ("web", 0), ("web", 1), ("in store", 0), ("in store", 0), ("app-v2", 1)]
TRAIN_CATS += [("other", 0), (None, 1)]
# Rows never used for fitting: a category only they have ("phone" is frequent here) and a null.
SCORE_ONLY = [("phone", 1), ("phone", 1), ("phone", 1), ("phone", 1), (None, 0), ("web", 1)]


def _cat_frames(spark):  # type: ignore[no-untyped-def]
    train = _frame(
        spark,
        [
            {"row": f"t{i}", "channel": c, "label": y, "amount": float(i)}
            for i, (c, y) in enumerate(TRAIN_CATS)
        ],
    )
    score = _frame(
        spark,
        [
            {"row": f"s{i}", "channel": c, "label": y, "amount": float(i)}
            for i, (c, y) in enumerate(SCORE_ONLY)
        ],
    )
    return train, score


def test_one_hot_learnt_from_train_and_applied_without_skew(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(categorical_encoding="one_hot")
    train, score = _cat_frames(spark)
    state = fit_feature_state(train, spec)
    names = output_feature_names(state)
    # vocabulary by count then name; "other" the value must not clash with the unseen column
    assert names == [
        "amount",
        "channel__web",
        "channel__in_store",
        "channel__app_v2",
        "channel__other",
        "channel__OTHER__",
    ]
    assert spec.model_features == ["amount", "channel"]  # the base list stays what the spec knows
    stored = json.loads(json.dumps(state, sort_keys=True, allow_nan=False))
    both = _vectors(apply_features(train.unionByName(score), spec, state, with_split=True), names)
    alone = _vectors(apply_features(score.drop("_label"), spec, stored, with_split=False), names)
    train_alone = _vectors(apply_features(train, spec, stored, with_split=False), names)
    for row, vector in [*alone.items(), *train_alone.items()]:
        _assert_same_vectors(vector, both[row])
    assert both["t0"][1:] == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert both["t3"][1:] == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert both["t6"][1:] == [0.0, 0.0, 0.0, 1.0, 0.0]  # the value "other" has its own column
    assert alone["s0"][1:] == [0.0, 0.0, 0.0, 0.0, 1.0]  # unseen → only <col>__OTHER__
    assert all(math.isnan(v) for v in alone["s4"][1:])  # null stays missing everywhere


def test_target_encoding_learnt_from_train_and_applied_without_skew(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(categorical_encoding="target", target_smoothing=2.0)
    train, score = _cat_frames(spark)
    state = fit_feature_state(train, spec)
    assert output_feature_names(state) == spec.model_features == ["amount", "channel"]
    labels = [y for _, y in TRAIN_CATS]
    prior = sum(labels) / len(labels)

    def smoothed(value: str) -> float:
        ys = [y for c, y in TRAIN_CATS if c == value]
        return (sum(ys) + 2.0 * prior) / (len(ys) + 2.0)

    fitted = state["target_encoding"]["channel"]
    assert fitted["prior"] == pytest.approx(prior)
    assert fitted["values"] == pytest.approx({v: smoothed(v) for v in ("web", "in store", "app-v2", "other")})
    stored = json.loads(json.dumps(state, sort_keys=True, allow_nan=False))
    both = _vectors(apply_features(train.unionByName(score), spec, state, with_split=True), ["channel"])
    alone = _vectors(apply_features(score.drop("_label"), spec, stored, with_split=False), ["channel"])
    for row, vector in alone.items():
        _assert_same_vectors(vector, both[row])
    assert both["t0"][0] == pytest.approx(smoothed("web"))
    assert alone["s5"][0] == pytest.approx(smoothed("web"))  # scoring labels never leak in
    assert alone["s0"][0] == pytest.approx(prior)  # unseen → prior
    assert alone["s4"][0] == pytest.approx(prior) and both["t7"][0] == pytest.approx(prior)  # null → prior


def test_index_encoding_unchanged_and_unseen_gets_its_own_code(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec()
    train, score = _cat_frames(spark)
    state = fit_feature_state(train, spec)
    assert output_feature_names(state) == spec.model_features == ["amount", "channel"]
    alone = _vectors(apply_features(score, spec, state, with_split=False), ["channel"])
    assert alone["s0"] == [4.0] and alone["s5"] == [0.0] and math.isnan(alone["s4"][0])


def test_state_of_another_encoding_is_refused(spark) -> None:  # type: ignore[no-untyped-def]
    train, _ = _cat_frames(spark)
    state = fit_feature_state(train, _spec(categorical_encoding="one_hot"))
    with pytest.raises(ValueError, match="events_demo.*retrain"):
        apply_features(train, _spec(), state, with_split=False)
    with pytest.raises(ValueError, match="retrain"):
        apply_features(
            train,
            _spec(categorical_encoding="one_hot"),
            {**state, "feature_names": ["amount"]},
            with_split=False,
        )


# --- point-in-time aggregates -------------------------------------------------------------------

HOUR = 3600
AGGS = [
    {"name": "n_1h", "column": "*", "agg": "count", "window": "1h"},
    {"name": "sum_1h", "column": "amount", "agg": "sum", "window": "1h"},
    {"name": "mean_1h", "column": "amount", "agg": "mean", "window": "60m"},
    {"name": "max_1d", "column": "amount", "agg": "max", "window": "1d"},
    {"name": "n_amount_1h", "column": "amount", "agg": "count", "window": "3600s"},
]
# (row, account, minutes after T0, amount); equal times, the window's exact edge and a null amount.
EVENTS = [
    ("a0", "A", 0, 5.0),
    ("a1", "A", 10, 7.0),
    ("a2", "A", 10, 11.0),
    ("a3", "A", 50, None),
    ("a4", "A", 60, 13.0),
    ("a5", "A", 75, 17.0),
    ("a6", "A", 190, 19.0),
    ("b0", "B", 5, 100.0),
    ("b1", "B", 30, 200.0),
    ("b2", "B", 64, 300.0),
    ("b3", "B", 65, 400.0),
]


def _event_rows(events: list[tuple]) -> list[dict[str, Any]]:
    return [
        {"row": r, "id": r, "account": acc, "ts": T0 + timedelta(minutes=m), "amount": amt}
        for r, acc, m, amt in events
    ]


def _brute_force(events: list[tuple]) -> dict[str, dict[str, float]]:
    """Each row's aggregates from its account's strictly earlier events, in plain Python."""
    out: dict[str, dict[str, float]] = {}
    for row, acc, m, _ in events:
        t = m * 60

        def past(window: int, acc: str = acc, t: int = t) -> list[float | None]:
            return [a for _, c, mm, a in events if c == acc and t - window <= mm * 60 < t]

        hour, day = past(HOUR), past(24 * HOUR)
        amounts = [a for a in hour if a is not None]
        day_amounts = [a for a in day if a is not None]
        out[row] = {
            "n_1h": float(len(hour)),
            "sum_1h": float(sum(amounts)),
            "mean_1h": sum(amounts) / len(amounts) if amounts else math.nan,
            "max_1d": max(day_amounts) if day_amounts else math.nan,
            "n_amount_1h": float(len(amounts)),
        }
    return out


AGG_NAMES = [a["name"] for a in AGGS]


def _aggregates(spark, spec, events, history=None) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    df = _frame(spark, _event_rows(events))
    state = fit_feature_state(df, spec)
    hist = _frame(spark, _event_rows(history)) if history else None
    feats = apply_features(df, spec, state, with_split=False, history=hist)
    return {r["_row_id"]: {n: r[n] for n in AGG_NAMES} for r in feats.collect()}


def _assert_close(got: dict[str, dict[str, float]], want: dict[str, dict[str, float]]) -> None:
    assert set(got) == set(want)
    for row, values in want.items():
        for name, value in values.items():
            assert _same(got[row][name], value), (row, name, got[row][name], value)


def test_aggregates_match_brute_force_over_strictly_earlier_rows(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(aggregates=AGGS)
    assert spec.model_features == ["amount", *AGG_NAMES, "channel"]
    got = _aggregates(spark, spec, EVENTS)
    _assert_close(got, _brute_force(EVENTS))
    assert got["a0"]["n_1h"] == 0.0 and got["a0"]["sum_1h"] == 0.0 and math.isnan(got["a0"]["mean_1h"])
    assert got["a2"]["n_1h"] == 1.0  # a1 has the same time: not earlier, not counted
    assert got["a4"]["n_1h"] == 4.0  # a0 is exactly one hour earlier: inside the window
    assert (got["a5"]["n_1h"], got["a5"]["sum_1h"]) == (2.0, 13.0)  # a0-a2 are over an hour old
    assert got["b3"]["sum_1h"] == 600.0  # b0, b1, b2 (never A's rows, nor b3 itself)


def test_aggregates_never_see_later_or_simultaneous_rows(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(aggregates=AGGS)
    base = _aggregates(spark, spec, EVENTS)
    huge = [("f0", "A", 191, 1e12), ("f1", "A", 190, 1e12), ("f2", "B", 65, 1e12)]
    extended = _aggregates(spark, spec, [*EVENTS, *huge])
    _assert_close({r: extended[r] for r in base}, base)
    assert extended["f0"]["max_1d"] == 1e12  # f1 is earlier than f0 and within a day
    assert extended["f1"]["max_1d"] == 17.0  # a6 has f1's time: neither sees the other
    _assert_close(extended, _brute_force([*EVENTS, *huge]))


def test_rows_without_time_or_entity_get_missing_and_do_not_count(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(aggregates=AGGS)
    df = _frame(
        spark,
        [
            *_event_rows(EVENTS),
            {"row": "nt", "account": "A", "amount": 1e9},
            {"row": "ne", "ts": T0, "amount": 1.0},
        ],
    )
    feats = {
        r["_row_id"]: r
        for r in apply_features(df, spec, fit_feature_state(df, spec), with_split=False).collect()
    }
    assert all(math.isnan(feats[row][n]) for row in ("nt", "ne") for n in AGG_NAMES)
    _assert_close(
        {r: {n: feats[r][n] for n in AGG_NAMES} for r in feats if r not in ("nt", "ne")}, _brute_force(EVENTS)
    )


def test_history_gives_the_same_aggregates_as_the_union(spark) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(aggregates=AGGS)
    earlier = [e for e in EVENTS if e[2] < 60]
    later = [e for e in EVENTS if e[2] >= 60]
    union = _aggregates(spark, spec, EVENTS)
    with_history = _aggregates(spark, spec, later, history=earlier)
    assert set(with_history) == {e[0] for e in later}  # only the frame's own rows come back
    _assert_close(with_history, {r: union[r] for r in with_history})
    without = _aggregates(spark, spec, later)
    assert without["a4"]["n_1h"] == 0.0 and with_history["a4"]["n_1h"] == 4.0


# --- spec validation ----------------------------------------------------------------------------


def _spec_error(tmp_path: Path, features: dict[str, Any], columns: dict[str, Any] | None = None) -> str:
    raw = copy.deepcopy(BASE)
    raw["features"].update(features)
    raw["columns"].update(columns or {})
    raw["columns"] = {k: v for k, v in raw["columns"].items() if v is not None}
    path = tmp_path / "events_demo.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return str(info.value)


def test_aggregate_requires_event_time_and_entity(tmp_path: Path) -> None:
    message = _spec_error(tmp_path, {"aggregates": AGGS[:1]}, {"event_time": None})
    assert "features.aggregates[0]" in message and "columns.event_time" in message
    message = _spec_error(tmp_path, {"aggregates": AGGS[:1]}, {"entity": None})
    assert "columns.entity" in message


def test_aggregate_field_errors(tmp_path: Path) -> None:
    bad_window = {**AGGS[0], "window": "7x"}
    assert "features.aggregates.0.window" in _spec_error(tmp_path, {"aggregates": [bad_window]})
    star_sum = {**AGGS[0], "agg": "sum"}
    assert "'*'" in _spec_error(tmp_path, {"aggregates": [star_sum]})
    not_numeric = {**AGGS[1], "column": "channel"}
    assert "'channel'" in _spec_error(tmp_path, {"aggregates": [not_numeric]})
    clash = {**AGGS[0], "name": "amount"}
    assert "already used" in _spec_error(tmp_path, {"aggregates": [clash]})


def test_bucketize_boundaries_must_increase(tmp_path: Path) -> None:
    feat = {"name": "b", "op": "bucketize", "inputs": ["amount"], "boundaries": [0, 10, 10]}
    message = _spec_error(tmp_path, {"derived": [feat]})
    assert "features.derived.0.boundaries" in message and "strictly increasing" in message
    missing = {"name": "b", "op": "bucketize", "inputs": ["amount"]}
    assert "'boundaries'" in _spec_error(tmp_path, {"derived": [missing]})


def test_date_part_needs_a_timestamp_column_and_a_part(tmp_path: Path) -> None:
    feat = {"name": "h", "op": "date_part", "inputs": ["amount"], "part": "hour"}
    message = _spec_error(tmp_path, {"derived": [feat]})
    assert "features.derived[0]" in message and "columns.timestamps" in message
    no_part = {"name": "h", "op": "date_part", "inputs": ["signup_at"]}
    assert "'part'" in _spec_error(tmp_path, {"derived": [no_part]})
    bad_part = {"name": "h", "op": "date_part", "inputs": ["signup_at"], "part": "week"}
    assert "features.derived.0.part" in _spec_error(tmp_path, {"derived": [bad_part]})


def test_new_roles_are_raw_columns_with_one_role(tmp_path: Path) -> None:
    spec = _spec()
    assert spec.columns.raw_columns == ["event_id", "ts", "account", "signup_at", "amount", "channel", "y"]
    assert _spec(aggregates=AGGS[:1]).columns.raw_columns == spec.columns.raw_columns
    assert "two roles" in _spec_error(tmp_path, {}, {"timestamps": ["amount"]})
    raw = copy.deepcopy(BASE)
    raw["columns"]["entity"] = "event_id"  # the entity may be the id itself
    assert ModelSpec.model_validate(raw).columns.raw_columns[:3] == ["event_id", "ts", "signup_at"]
