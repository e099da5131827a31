"""evaluation: reproducible impact evaluation for workplace-development projects.

The pipeline runs io -> validate -> score -> analyse -> report; see ``docs/``.
"""

__version__ = "0.1.0"
