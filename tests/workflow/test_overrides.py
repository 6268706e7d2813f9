"""``--set`` parameters: YAML values, stage prefixes, errors naming the item."""

import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow import overrides


def test_parse_overrides_reads_yaml_values_and_stage_prefixes():
    parsed = overrides.parse_overrides(
        [
            "seed=3",
            "lr=1e-3",
            "02.heads_epochs=4",
            "03_minority_oversampling.method=min_count",
            "grid={LEARNING_RATE: [0.1, 0.2]}",
            "data=",
        ]
    )
    assert parsed == {
        "seed": 3,
        "lr": 0.001,
        "02_full_training": {"heads_epochs": 4},
        "03_minority_oversampling": {"method": "min_count"},
        "grid": {"LEARNING_RATE": [0.1, 0.2]},
        "data": None,
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("seed", "expected NAME=VALUE"),
        ("=3", "expected NAME=VALUE"),
        ("09.seed=1", "unknown stage '09'"),
        ("02.2x=1", "'2x' is not a parameter name"),
        ("a-b=1", "'a-b' is not a parameter name"),
        ("x=[1", "value is not valid YAML"),
    ],
)
def test_parse_overrides_errors_name_the_item(item, message):
    with pytest.raises(ConfigError, match=message):
        overrides.parse_overrides([item])
