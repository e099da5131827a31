"""An in-process papermill engine: notebooks run inside a warm worker, not a fresh kernel.

Starting a Jupyter kernel and importing pandas, statsmodels and matplotlib costs a few seconds,
and a run has dozens of notebooks (analyses and one report per audience and language). The
engine runs each notebook's code cells in an IPython shell inside the worker process that
``evaluation run`` started once, with a fresh namespace per notebook, and records what each cell
shows (streams, rich displays, the value of the last expression, errors) as notebook outputs in
the order they happened, as a kernel would. Papermill still injects the parameters, writes the
executed notebook and raises :class:`papermill.PapermillExecutionError` for a failed cell.

Registered with papermill as ``evaluation`` (``papermill --engine evaluation in.ipynb out.ipynb``)
through the ``papermill.engine`` entry point, which names
:class:`evaluation.pipeline.papermill_engine.InProcessEngine` (a module of its own:
papermill loads its entry points while it is being imported, so this module must not import
papermill).
``evaluation run --engine kernel`` uses a real kernel instead (what JupyterLab does).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import nbformat
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

if TYPE_CHECKING:
    from evaluation.pipeline.cells import CellCache


class _Outputs:
    """The outputs of the cell being executed, in the order the cell produced them."""

    def __init__(self) -> None:
        self.items: list[nbformat.NotebookNode] = []

    def stream(self, name: str, text: str) -> None:
        last = self.items[-1] if self.items else None
        if last is not None and last.output_type == "stream" and last.name == name:
            last.text += text
        else:
            self.items.append(nbformat.v4.new_output("stream", name=name, text=text))

    def display(self, data: dict, metadata: dict | None) -> None:
        self.items.append(
            nbformat.v4.new_output("display_data", data=data, metadata=metadata or {})
        )

    def result(self, data: dict, metadata: dict | None, count: int | None) -> None:
        self.items.append(
            nbformat.v4.new_output(
                "execute_result", data=data, metadata=metadata or {}, execution_count=count
            )
        )

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self.items.append(
            nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=traceback)
        )


class _Stream(io.TextIOBase):
    def __init__(self, outputs: _Outputs, name: str) -> None:
        self._outputs, self.name = outputs, name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            self._outputs.stream(self.name, text)
        return len(text)


class _Publisher(DisplayPublisher):
    """``display(...)`` appends a display_data output instead of printing text."""

    outputs: _Outputs | None = None

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
        if self.outputs is not None:
            self.outputs.display(dict(data), metadata)

    def clear_output(self, wait: bool = False) -> None:
        if self.outputs is not None:
            self.outputs.items.clear()


class _DisplayHook(DisplayHook):
    """The value of a cell's last expression becomes an execute_result output."""

    outputs: _Outputs | None = None
    count: int | None = None

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict, md_dict=None) -> None:
        if self.outputs is not None:
            self.outputs.result(dict(format_dict), md_dict, self.count)

    def finish_displayhook(self) -> None:
        pass


class _Shell(InteractiveShell):
    displayhook_class = _DisplayHook
    display_pub_class = _Publisher
    last_error: tuple[str, str, list[str]] | None = None

    def _showtraceback(self, etype, evalue, stb) -> None:
        self.last_error = (etype.__name__, str(evalue), list(stb))

    def showsyntaxerror(self, filename=None, running_compiled_code=False) -> None:
        etype, value, _tb = sys.exc_info()
        stb = self.SyntaxTB.structured_traceback(etype, value, [])
        self._showtraceback(etype, value, stb)


_shell: _Shell | None = None


def shell() -> _Shell:
    """This process's shell (created once; each notebook gets a fresh namespace)."""
    global _shell
    if _shell is None:
        from traitlets.config import Config

        config = Config()
        # No history database (parallel workers would share one sqlite file) and no output
        # cache (``_``, ``Out``): a pipeline run needs neither.
        config.HistoryManager.enabled = False
        config.InteractiveShell.cache_size = 0
        _shell = _Shell.instance(config=config, colors="nocolor")
    return _shell


def _fresh_namespace(sh: _Shell) -> None:
    """Empty the user namespace (what ``InteractiveShell.reset`` does, without its full garbage
    collection, which costs a fraction of a second per notebook in a process with a big heap)."""
    ns = sh.user_ns
    for key in [k for k in ns if k not in ("__builtin__", "__builtins__", "__name__")]:
        del ns[key]
    sh.user_ns_hidden.clear()
    sh.init_user_ns()


@contextlib.contextmanager
def _capture(sh: _Shell, outputs: _Outputs, count: int) -> Iterator[None]:
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Stream(outputs, "stdout"), _Stream(outputs, "stderr")
    sh.display_pub.outputs = outputs
    sh.displayhook.outputs, sh.displayhook.count = outputs, count
    sh.last_error = None
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        sh.display_pub.outputs = None
        sh.displayhook.outputs = None


def run_cells(nb_man: Any, cell_cache: CellCache | None = None) -> None:
    """Execute the code cells of ``nb_man.nb`` in a fresh namespace; stop at the first error.
    With ``cell_cache``, a cell whose inputs did not change shows its last outputs instead of
    running (:mod:`evaluation.pipeline.cells`)."""
    sh = shell()
    _fresh_namespace(sh)
    count = 0
    cwd = os.getcwd()
    # Warnings are recorded (with a fresh "once" registry per notebook, so each notebook shows
    # its own warnings whatever ran before it in this process) and shown on the cell's stderr.
    with warnings.catch_warnings(record=True) as caught:
        for index, cell in enumerate(nb_man.nb.cells):
            if cell.cell_type != "code":
                continue
            count += 1
            nb_man.cell_start(cell, index)
            cell.execution_count = count
            replayed = cell_cache.replay(count - 1, cell.source) if cell_cache else None
            if replayed is not None:
                cell.outputs = [nbformat.from_dict(o) for o in replayed]
                nb_man.cell_complete(cell, index)
                continue
            mark = cell_cache.start() if cell_cache else None
            outputs = _Outputs()
            with _capture(sh, outputs, count):
                result = sh.run_cell(cell.source, store_history=False)
            for w in caught:
                text = warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
                outputs.stream("stderr", text)
            caught.clear()
            failed = not result.success
            if failed:
                ename, evalue, traceback = sh.last_error or (
                    type(result.error_in_exec or result.error_before_exec).__name__,
                    str(result.error_in_exec or result.error_before_exec),
                    [],
                )
                outputs.error(ename, evalue, traceback)
            cell.outputs = outputs.items
            if failed:
                nb_man.cell_exception(cell, index)
                nb_man.cell_complete(cell, index)
                break
            if cell_cache and mark:
                cell_cache.ran(count - 1, cell.source, outputs.items, mark)
            nb_man.cell_complete(cell, index)
    os.chdir(cwd)
    _fresh_namespace(sh)  # release the notebook's data before the worker takes the next one
    from evaluation.pipeline.memory import release_memory

    release_memory()  # and give its pages back (only in a worker that grew big)
