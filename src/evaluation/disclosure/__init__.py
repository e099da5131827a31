"""Disclosure control: the rules for every table of record, the plan of secondary suppression
over everything published (audited by linear programming), redaction of personal data in
texts and pseudonyms. See docs/disclosure.md."""
