"""The example notebook (docs/python_api.ipynb) runs where people open it (issue 18, finding 3).

Jupyter starts in the folder the notebook sits in: the test executes it with ``docs/`` of a
fresh clone as its working directory and no MIGSYS_HOME, so ``migsys.connect()`` and
``migsys.study()`` must find the repository's ``var/`` (what `make refresh` published: the
embedded snapshot and the standing remittance study) on their own. The notebook studies
migration: the standing study's Sobol indices, its envelope over the observed series and a PRIM
box, each checked in the outputs.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "python_api.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_notebook_runs_from_docs_of_a_fresh_clone(embedded_home, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    clone = tmp_path / "clone"
    (clone / "docs").mkdir(parents=True)
    shutil.copy2(NOTEBOOK, clone / "docs" / NOTEBOOK.name)
    shutil.copytree(
        embedded_home.home, clone / "var", symlinks=True, ignore=shutil.ignore_patterns("*.lock")
    )
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    saved = dict(os.environ)
    os.environ.pop("MIGSYS_HOME", None)  # as in Jupyter: nothing says where the home is
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(clone / "docs")}},
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "\n".join(
        out.get("text", "") or out.get("data", {}).get("text/plain", "") for out in outputs
    )
    assert f"reading {clone / 'var'}" in text  # found from docs/, with no MIGSYS_HOME
    assert "claims of the paper the data do not reproduce" in text
    assert "2024" in text  # remittances to 2024, from the embedded snapshot
    assert "8,192 scenarios of the remittances kernel" in text  # the standing migration study
    top = re.search(r"largest total index: (\w+)", text)
    assert top and top.group(1) in {"return_rate_initial", "inflow_base", "amount_base"}, text
    box = re.search(r"box: coverage (\d+)%, density (\d+)%", text)
    assert box and int(box.group(2)) > 50  # the box is rich in high-remittance scenarios
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == 3  # the remittance series, the Sobol bars, the envelope
