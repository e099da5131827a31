"""The in-process papermill engine records what a kernel would, and fails like papermill does."""

from __future__ import annotations

import nbformat
import papermill as pm
import pytest

from evaluation.pipeline.run import ENGINE_NAME, register_engine


def _notebook(path, *sources: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "py"}
    cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(src) for src in sources]
    nb.cells = cells
    nbformat.write(nb, path)
    return str(path)


def _execute(source: str, target, **parameters) -> nbformat.NotebookNode:
    register_engine()
    pm.execute_notebook(
        source, str(target), parameters=parameters, engine_name=ENGINE_NAME,
        progress_bar=False, language="python",
    )  # fmt: skip
    return nbformat.read(target, as_version=4)


def test_outputs_are_recorded_in_order_with_parameters_injected(tmp_path):
    src = _notebook(
        tmp_path / "in.ipynb",
        "print('before', x)\n"
        "from IPython.display import Markdown, display\n"
        "display(Markdown('**shown**'))\n"
        "print('after')\n"
        "x * 2",
    )
    out = _execute(src, tmp_path / "out.ipynb", x=21)
    cell = out.cells[-1]
    kinds = [(o.output_type, o.get("name")) for o in cell.outputs]
    assert kinds == [
        ("stream", "stdout"),
        ("display_data", None),
        ("stream", "stdout"),
        ("execute_result", None),
    ]
    assert cell.outputs[0].text == "before 21\n"
    assert cell.outputs[1].data["text/markdown"] == "**shown**"
    assert cell.outputs[3].data["text/plain"] == "42"
    assert out.metadata.papermill.parameters == {"x": 21}
    assert [c.execution_count for c in out.cells if c.cell_type == "code"] == [1, 2, 3]


def test_a_failing_cell_raises_papermill_error_and_keeps_partial_output(tmp_path):
    src = _notebook(tmp_path / "in.ipynb", "print('ran')", "1 / 0", "print('never')")
    with pytest.raises(pm.PapermillExecutionError) as info:
        _execute(src, tmp_path / "out.ipynb")
    assert info.value.ename == "ZeroDivisionError"
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    cells = {c.source: c for c in out.cells if c.cell_type == "code"}
    assert cells["print('ran')"].outputs[0].text == "ran\n"
    error = cells["1 / 0"].outputs[0]
    assert error.output_type == "error"
    assert any("ZeroDivisionError" in line for line in error.traceback)
    assert cells["print('never')"].outputs == []  # nothing after the failing cell ran


def test_each_notebook_starts_with_a_fresh_namespace(tmp_path):
    first = _notebook(tmp_path / "a.ipynb", "leftover = 'from a'")
    _execute(first, tmp_path / "a-out.ipynb")
    second = _notebook(tmp_path / "b.ipynb", "print('leftover' in dir())")
    out = _execute(second, tmp_path / "b-out.ipynb")
    assert out.cells[-1].outputs[0].text == "False\n"


def test_warnings_are_shown_in_every_notebook_not_only_the_first(tmp_path):
    code = "import warnings\nfor _ in range(2):\n    warnings.warn('careful')"
    for name in ("a", "b"):
        out = _execute(_notebook(tmp_path / f"{name}.ipynb", code), tmp_path / f"{name}-o.ipynb")
        streams = [o for o in out.cells[-1].outputs if o.output_type == "stream"]
        assert streams and "careful" in streams[0].text, name
