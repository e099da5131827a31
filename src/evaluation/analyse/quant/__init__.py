"""Quantitative estimators: pre/post effects, mixed models and DiD, meta-analysis, power,
reliability, descriptives, data quality and indicators."""
