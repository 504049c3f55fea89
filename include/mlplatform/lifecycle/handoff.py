"""What one step hands to the next: small typed records, JSON-able for XCom.

Each step reads the record of the step before it and returns its own; the DAG's data flow is
the chain of these types. They carry references (batch ids, Delta versions, artifact URIs) and
small decisions, never data. Later records extend earlier ones, so a downstream step still sees
the batch it works on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["training", "scoring"]


class Handoff(BaseModel):
    """Base: unknown keys are refused, so a renamed field fails loudly at the next step."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def of(cls, value: Handoff | dict[str, Any]) -> Any:
        """Accept the record itself or its XCom form (a dict)."""
        return value if isinstance(value, cls) else cls.model_validate(value)

    def extend(self, cls: type[Any], **fields: Any) -> Any:
        """The next step's record: this one's fields plus ``fields``."""
        return cls(**{**self.model_dump(), **fields})


class Batch(Handoff):
    """ingest → a batch in bronze."""

    batch_id: str
    mode: Mode
    rows: int
    bronze_version: int
    source_uri: str
    schema_version: int
    # The source_schemas row validate appends once the batch is accepted (None: schema unchanged).
    schema_record: dict[str, Any] | None = None


class ValidatedBatch(Batch):
    """validate → the batch's good rows in ``validated``; bad rows in quarantine."""

    validated_rows: int
    quarantined_rows: int
    validated_version: int
    data_docs_uri: str | None = None


class FeaturedBatch(ValidatedBatch):
    """build_features → the batch's model inputs in ``features``.

    Training stages the fitted feature state; scoring names the champion that will score it.
    """

    features_version: int
    feature_state_uri: str | None = None
    model_version: int | None = None
    # A windowed training run's plan (mlplatform.data.training_window.WindowPlan as a dict).
    window: dict[str, Any] | None = None


class TrainedModel(FeaturedBatch):
    """train → a booster in the run's staging folder (not yet a version)."""

    booster_uri: str
    booster_sha256: str
    train_rows: int
    training_path: str
    best_iteration: int | None = None
    training: dict[str, Any]


class EvaluatedModel(TrainedModel):
    """evaluate → holdout metrics, the evaluation report, its plots and reference profile staged."""

    metrics: dict[str, Any]
    plots: list[str] = Field(default_factory=list)


class RegisteredVersion(Handoff):
    """register → a version in the registry."""

    version: int
    created: bool
    metrics: dict[str, Any]
    batch_id: str
    features_version: int
    window: dict[str, Any] | None = None


class ExplainedVersion(RegisteredVersion):
    """explain → the SHAP report and model card of the version."""

    shap_report: str
    model_card: str
    top_features: list[str]


class GateResult(Handoff):
    """gate → every automatic check, and whether a human must approve."""

    version: int
    passed: bool
    checks: list[dict[str, Any]]
    champion_version: int | None
    reason: str
    require_approval: bool


class PromotionResult(Handoff):
    """promote → the decision recorded; the champion alias moved when ``promoted``."""

    version: int
    promoted: bool
    champion_version: int | None
    reason: str
    approval: str
    already: bool = False


class ScoredBatch(FeaturedBatch):
    """score → the date's predictions partition."""

    predictions: int
    predictions_version: int


class PerformanceResult(Handoff):
    """check_performance → late labels loaded, and the latest labelled performance (if any)."""

    labels_configured: bool
    labels_arrived: bool = False
    new_labels: int = 0
    rejected_labels: int = 0
    performance: dict[str, Any] | None = None


class DriftResult(Handoff):
    """check_drift → drift, skew and quality flags against the version's reference."""

    model_version: int
    predictions: int
    report: str
    features_checked: int
    features_drifted: list[str]
    share_drifted: float
    prediction_drifted: bool
    prediction_metric: str | None = None
    prediction_value: float | None = None
    prediction_psi: float | None = None
    skewed_features: list[str]
    quality_alerts: dict[str, list[str]]
    alerts: list[dict[str, Any]] = []  # delivery outcome per channel, added by the Airflow task


class RetrainingDecision(Handoff):
    """decide_retraining → the policy's verdict."""

    retrain: bool
    degraded: bool
    reason: str
    consecutive_degraded: int
    training_dag_id: str
    model_version: int
    held: bool = False  # degraded enough to retrain, but no labelled data arrived since the champion's
    alerts: list[dict[str, Any]] = []  # delivery outcome per channel, added by the Airflow task


class RetirementResult(Handoff):
    """retire → the model retired, its versions archived, the manifest written."""

    model: str
    retired: bool
    newly_retired: bool
    champion_before: int | None
    aliases_after: dict[str, int]
    archived_versions: list[int]
    manifest: str
