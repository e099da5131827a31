"""What every worker of a run imports, imported once by the server the workers are forked from
(:func:`evaluation.processes.worker_context`): a worker starts with them loaded."""

from evaluation.processes import one_thread_math

one_thread_math()  # before numpy is loaded

from evaluation.pipeline.run import worker_imports  # noqa: E402

worker_imports(statistics=False)  # the model API: "statsmodels.api" in the preload
