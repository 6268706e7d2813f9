"""The synthetic dataset the shard-cache tests pack, and what packing it should give."""

import pytest

from fashion_mrcnn.data import synthetic
from fashion_mrcnn.data.dataset import FashionDataset


@pytest.fixture(scope="module")
def synth_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_cache_src")
    synthetic.generate(root, n_images=12, size=96, seed=4, attributes=True)
    return FashionDataset.from_imaterialist(root / "train.csv", root / "label_descriptions.json")
