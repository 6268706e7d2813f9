import json

from fashion_mrcnn.tools.check_notebooks import main, notebook_problems


def _write(path, cells):
    path.write_text(
        json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    return path


def test_clean_notebook_passes(tmp_path):
    nb = _write(
        tmp_path / "a.ipynb",
        [
            {
                "cell_type": "code",
                "source": "1",
                "outputs": [],
                "execution_count": None,
                "metadata": {},
            }
        ],
    )
    assert notebook_problems(nb) == []
    assert main([str(tmp_path)]) == 0


def test_outputs_and_counts_are_reported(tmp_path):
    nb = _write(
        tmp_path / "b.ipynb",
        [
            {"cell_type": "markdown", "source": "x", "metadata": {}},
            {
                "cell_type": "code",
                "source": "1",
                "outputs": [{"output_type": "stream"}],
                "execution_count": 3,
                "metadata": {},
            },
        ],
    )
    problems = notebook_problems(nb)
    assert problems == [f"{nb}: cell 1 has outputs", f"{nb}: cell 1 has an execution count"]
    assert main([str(nb)]) == 1


def test_unreadable_notebook_is_a_problem(tmp_path):
    nb = tmp_path / "c.ipynb"
    nb.write_text("{not json")
    assert "not a readable notebook" in notebook_problems(nb)[0]
