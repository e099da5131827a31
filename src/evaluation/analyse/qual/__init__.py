"""Qualitative analysis: theme prevalence and quotes, intercoder reliability, keyword
suggestions and the joint display."""
