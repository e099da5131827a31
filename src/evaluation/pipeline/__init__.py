"""Running a study: raw data to processed (validate, score), the disclosure plan, the
notebooks (papermill, in-process engine), the reports, the cache and the manifest; and the
session a notebook opens."""
