"""The sections of a model spec that watch it in production: drift, late labels, the retraining
policy and alerts.

Frozen pydantic models that refuse unknown fields, like the sections in
``mlplatform.config.spec_sections``; ``mlplatform.config.specs`` puts them into ``ModelSpec``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlplatform.config.base import _Strict
from mlplatform.config.spec_sections import SourceSpec

ALERT_EVENTS = ("drift", "data_quality", "task_failure", "retraining", "retraining_held", "retirement")
AlertEventName = Literal[ALERT_EVENTS]  # type: ignore[valid-type]


class DriftSpec(_Strict):
    """Drift, skew and input-quality checks of every scoring batch against the reference profile.

    Defaults follow Evidently's DataDriftPreset (0.7): with more than 1000 reference rows numeric
    columns use the Wasserstein distance normed by the reference's std (drift at >= 0.1) and
    categorical columns the Jensen-Shannon distance (>= 0.1); with fewer, KS and chi-squared with
    p < 0.05. Distances keep verdicts meaningful on large batches, where p-values flag any shift.
    PSI is always recorded too (0.1 / 0.25 are the usual watch / act levels).
    """

    numeric_stattest: Literal["auto", "wasserstein", "ks", "psi"] = Field(
        default="auto",
        description="Drift test of numeric columns; `auto`: KS or Wasserstein by reference size.",
    )
    categorical_stattest: Literal["auto", "jensenshannon", "chi2", "psi"] = Field(
        default="auto",
        description="Drift test of categorical columns; `auto`: chi-squared or Jensen-Shannon by reference size.",
    )
    prediction_stattest: Literal["auto", "wasserstein", "ks", "psi"] = Field(
        default="psi", description="Drift test of the model's output (score, value or predicted class)."
    )
    small_sample_rows: int = Field(
        default=1000,
        ge=0,
        description="`auto` uses p-value tests with at most this many reference rows, distances above.",
    )
    wasserstein_threshold: float = Field(
        default=0.1,
        gt=0.0,
        description="Drift when the Wasserstein distance normed by the reference std reaches it.",
    )
    jensenshannon_threshold: float = Field(
        default=0.1, gt=0.0, le=1.0, description="Drift when the Jensen-Shannon distance reaches it."
    )
    p_value_threshold: float = Field(
        default=0.05, gt=0.0, lt=1.0, description="KS and chi-squared: drift when the p-value is below it."
    )
    psi_threshold: float = Field(
        default=0.2,
        gt=0.0,
        description="Input columns: drift when PSI reaches it (a `psi` test, or the fallback).",
    )
    prediction_psi_threshold: float = Field(
        default=0.2, gt=0.0, description="The prediction: drift when its PSI reaches it."
    )
    max_null_rate_increase: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Flags a column whose null rate rises more than this above the reference's.",
    )
    max_unseen_category_rate: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Flags a categorical whose share of unseen values rises more than this.",
    )
    check_skew: bool = Field(
        default=True, description="Also compare the batch's model inputs with training's (train-serve skew)."
    )
    bins: int = Field(
        default=10, ge=2, le=100, description="Histogram bins of numeric columns in the reference profiles."
    )
    feature_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per column, a threshold replacing its test's."
    )
    history_days: int = Field(
        default=60, ge=1, description="Days of drift and performance history in the drift report."
    )


class LabelsSpec(_Strict):
    """Late ground truth: files of (id, label) that arrive after scoring, joined to past predictions.

    ``path`` may contain ``{ds}`` (one file per arrival date) as the sources do; labels are matched
    to predictions of the last ``lookback_days`` by the spec's ``columns.id``.
    """

    source: SourceSpec = Field(description="The label files; `{ds}` is the arrival date.")
    id_column: str | None = Field(
        default=None, description="The label file's id column (null: that of `columns.id`)."
    )
    label_column: str | None = Field(
        default=None, description="The label file's label column (null: that of `columns.target`)."
    )
    lookback_days: int = Field(
        default=90, ge=1, description="Days of past predictions arriving labels are matched to."
    )
    min_labeled_rows: int = Field(
        default=50, ge=1, description="Fewest labelled rows a score date needs for its performance to count."
    )


class RetrainingPolicy(_Strict):
    """When the scoring DAG asks the training DAG for a new version (the reason goes into its conf).

    A run is *degraded* when the share of drifted input features reaches ``max_share_drifted``
    (Evidently's dataset-drift share, 0.5), the prediction drifts (``on_prediction_drift``), or the
    labelled AUC falls ``max_auc_drop`` below the champion's holdout AUC (a classifier), or the
    labelled RMSE rises ``max_rmse_increase`` (a share) above the champion's holdout RMSE (regression). Retraining fires after
    ``consecutive_runs`` degraded runs in a row, and not again within ``cooldown_days``.

    With a training window, ``require_new_labels`` holds retraining back until labels arrived
    after the champion's training cut-off: retraining on the data the champion already saw cannot
    learn anything. The run records "no new labelled data since vN" and alerts instead.
    """

    enabled: bool = Field(default=True, description="Whether degraded runs trigger retraining at all.")
    max_share_drifted: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Share of drifted input features that makes a run degraded."
    )
    on_prediction_drift: bool = Field(
        default=True, description="Whether prediction drift makes a run degraded."
    )
    max_auc_drop: float | None = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="Classifiers: degraded when labelled AUC falls this far below the champion's holdout AUC (null: off).",
    )
    max_rmse_increase: float | None = Field(
        default=0.1,
        gt=0.0,
        description="Regression: degraded when labelled RMSE rises this share above the champion's holdout RMSE (null: off).",
    )
    consecutive_runs: int = Field(
        default=2, ge=1, le=30, description="Degraded runs in a row before retraining fires."
    )
    cooldown_days: int = Field(
        default=0, ge=0, description="Days after a retraining in which it does not fire again."
    )
    require_new_labels: bool = Field(
        default=True, description="With a training window, wait for labels newer than the champion's cut-off."
    )


class AlertsSpec(_Strict):
    """Who hears about drift, data-quality failures and task failures of this model, and how.

    Alerts go through Airflow notifiers: a JSON POST to the webhook of each Airflow connection in
    ``webhook_conn_ids`` and an email through the Airflow SMTP connection ``smtp_conn_id``. Webhook
    URLs (often secrets themselves) and credentials live in those connections, never in the spec:
    the spec names connection ids only.
    """

    events: list[AlertEventName] = Field(
        default_factory=lambda: list(ALERT_EVENTS), description="The events that alert."
    )
    webhook_conn_ids: list[str] = Field(
        default_factory=list, description="Airflow connections whose webhooks get a JSON POST per alert."
    )
    emails: list[str] = Field(
        default_factory=list, description="Addresses alerts are emailed to (empty: no email)."
    )
    from_email: str = Field(default="mlplatform@localhost", description="The sender of alert emails.")
    smtp_conn_id: str = Field(
        default="smtp_default", description="The Airflow SMTP connection alert emails go through."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_webhook_urls(cls, data: Any) -> Any:
        if isinstance(data, dict) and "webhooks" in data:  # the URLs are not echoed: they are secrets
            raise ValueError(
                "'alerts.webhooks' is no longer supported: webhook URLs are secrets and do not belong "
                "in a model spec; put each URL in an Airflow connection (conn_type http, the URL as "
                "its host) and list the connection's id in 'alerts.webhook_conn_ids'"
            )
        return data

    @field_validator("webhook_conn_ids", "smtp_conn_id")
    @classmethod
    def _connection_ids(cls, value: Any) -> Any:
        for conn_id in value if isinstance(value, list) else [value]:
            if "://" in conn_id:
                raise ValueError(
                    "a URL is not an Airflow connection id: put the URL in an Airflow connection "
                    "and list the connection's id here"
                )
            if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,249}$", conn_id):
                raise ValueError(
                    f"'{conn_id}' is not an Airflow connection id (letters, digits, '_', '.', '-')"
                )
        return value
