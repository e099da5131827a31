"""Disclosure control: the rules for every table of record, the plan of secondary suppression
over everything published (audited by linear programming), redaction of personal data in
texts and pseudonyms. See docs/disclosure.md."""

# The disclosure plan's files in data/processed/ (written by plan.make_plan); named here, so
# that checking for them does not import the plan's model.
PLAN_FILE = "disclosure.parquet"
AUDIT_FILE = "disclosure-audit.json"
