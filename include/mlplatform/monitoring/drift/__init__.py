"""Data and prediction drift against a reference profile of the training data.

``profile`` builds the profile and the per-batch histograms with Spark, ``stats`` holds the
statistics on those few numbers, and ``verdict`` compares a batch with the profile column by column.
Reports live in ``mlplatform.reporting.drift_report``.
"""
