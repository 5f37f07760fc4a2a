"""Every notebook in this folder runs from top to bottom, as Jupyter would run it (from this folder)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS_DIRNAME = Path(__file__).resolve().parent
CELL_TIMEOUT_S = 600


@pytest.mark.parametrize("path", sorted(NOTEBOOKS_DIRNAME.glob("*.ipynb")), ids=lambda path: path.name)
def test_notebook_runs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, when a cell fails
