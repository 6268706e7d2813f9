"""What the shard cache should hold for one image of a dataset (shared by the cache tests)."""

from fashion_mrcnn.data import cache


def expected_instances(dataset, i, size):
    inst = dataset.load_instances(i)
    image, masks, window, scale = cache.resize_instances(dataset.load_image(i), inst["masks"], size)
    keep = masks.any(axis=(0, 1))
    attrs = [a for a, k in zip(inst["attribute_ids"], keep) if k]
    return image, masks[..., keep], inst["class_ids"][keep], window, scale, attrs
