"""Tiny notebooks and grid files written into tmp_path for the workflow tests."""

import nbformat


def write_notebook(path, parameters, *cells):
    """Write a notebook: a markdown title, the tagged parameters cell, then ``cells``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))
    return path


def cell_outputs(path):
    """The printed text of each code cell of an executed notebook."""
    nb = nbformat.read(str(path), as_version=4)
    return [
        "".join(o.get("text", "") for o in c.get("outputs", []))
        for c in nb.cells
        if c.cell_type == "code"
    ]


def write_grid(tmp_path, text):
    """``tmp_path/grid.yaml`` holding ``text``."""
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path
