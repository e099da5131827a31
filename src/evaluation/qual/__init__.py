"""Qualitative material: codings and open answers, REFI-QDA exchange, keyword suggestions,
redaction, theme prevalence, quotes and the joint display."""
