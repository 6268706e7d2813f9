"""Grid files for tuning: the cartesian product and the errors naming file and key."""

import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow import grid
from tests.workflow.notebook_files import write_grid as _grid


def test_grid_is_the_cartesian_product_in_file_order(tmp_path):
    path = _grid(
        tmp_path,
        "learning_rate: [1e-3, 5.0e-4]\n"
        "gradient_clip_norm: [5.0]\n"
        "loss_weights: [{mrcnn_mask_loss: 1.0}, {mrcnn_mask_loss: 2.0}]\n",
    )
    points = grid.load_grid(path)
    assert len(points) == 4
    assert points[0] == {
        "learning_rate": 0.001,  # "1e-3" is read as a float, not YAML 1.1's string
        "gradient_clip_norm": 5.0,
        "loss_weights": {"mrcnn_mask_loss": 1.0},
    }
    assert [p["learning_rate"] for p in points] == [0.001, 0.001, 0.0005, 0.0005]
    assert [p["loss_weights"]["mrcnn_mask_loss"] for p in points] == [1.0, 2.0, 1.0, 2.0]


def test_grid_accepts_a_top_level_grid_key(tmp_path):
    points = grid.load_grid(_grid(tmp_path, "grid:\n  seed: [0, 1, 2]\n"))
    assert points == [{"seed": 0}, {"seed": 1}, {"seed": 2}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("learning_rate: 0.001\n", r"key 'learning_rate': expected a list .*\(write \[0.001\]"),
        ("learning_rate: []\n", "key 'learning_rate': the list of values is empty"),
        ("seed: [1, 1]\n", "key 'seed': value 1 is listed twice"),
        ("2x: [1]\n", "key '2x' is not a valid parameter name"),
        ("lr: [.nan]\n", "key 'lr', value 0: nan is not finite"),
        ("- 1\n- 2\n", "expected a mapping of parameter name -> list of values, got list"),
        ("", "the grid file is empty"),
        ("a: [1\n", "not valid YAML"),
        ("a: [2000-01-01]\n", "key 'a', value 0: unsupported type date"),
    ],
)
def test_grid_errors_name_file_and_key(tmp_path, text, message):
    path = _grid(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        grid.load_grid(path)
    assert str(path) in str(info.value)


def test_grid_unknown_key_lists_the_allowed_ones(tmp_path):
    path = _grid(tmp_path, "learning_rate: [0.1]\nlearnign_rate: [0.2]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'learnign_rate'.*'learning_rate'"):
        grid.load_grid(path, allowed=["learning_rate", "seed"])


def test_grid_too_large_is_rejected(tmp_path):
    values = list(range(40))
    path = _grid(tmp_path, f"a: {values}\nb: {values}\n")
    with pytest.raises(ConfigError, match=r"1600 grid points \(a=40 x b=40\) exceed the limit"):
        grid.load_grid(path)


def test_missing_grid_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the grid file"):
        grid.load_grid(tmp_path / "nope.yaml")
