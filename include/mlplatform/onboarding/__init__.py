"""Onboarding a data set: profile a sample with Spark, draft a commented spec, dry-run a spec.

``profile`` collects counts with Spark into a plain profile dict; ``infer`` turns a profile into
decisions (task, column roles, sentinels, leaks, ranges) as pure functions of it; ``draft``
renders the decisions as a commented YAML spec; ``check`` runs a spec's real ingest, validation
and feature code on a sample without writing anything; ``reference`` documents every spec field.
"""
