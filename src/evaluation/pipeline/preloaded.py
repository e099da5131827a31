"""Imported last by the fork server the workers are forked from, after everything it preloads
(:func:`evaluation.pipeline.run._pool`): the objects of those modules are moved out of the
garbage collector's reach (:func:`gc.freeze`). The server's exit at the end of a run then
skips them (it took 0.3 s, which a caller waiting for the run's output waited for), and the
workers forked from it neither traverse nor copy them in their own collections."""

import gc

gc.freeze()
