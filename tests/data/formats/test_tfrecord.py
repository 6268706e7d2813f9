"""data.formats.tfrecord: a TFRecord file's bytes split into its records (the shard cache's
one-read path) give what TensorFlow's reader gives; a cut-off file is refused, naming it."""

import pytest

from fashion_mrcnn.data.formats import tfrecord as tfr
from fashion_mrcnn.errors import FashionDataError


def test_split_records_matches_tensorflows_reader_and_refuses_a_truncated_file(tmp_path):
    tf = tfr.tf_module()
    path = tmp_path / "x.tfrecord"
    examples = [
        tfr.make_example({"id": tfr.bytes_feature(f"im{k}"), "n": tfr.int64_list_feature(
            range(k * 40))}) for k in range(4)
    ]  # fmt: skip
    assert tfr.write_examples(path, examples) == 4
    data = path.read_bytes()
    raws = list(tfr.split_records(data, str(path)))
    assert raws == examples == [r.numpy() for r in tf.data.TFRecordDataset(str(path))]
    spec = {"id": tf.io.FixedLenFeature([], tf.string), "n": tf.io.VarLenFeature(tf.int64)}
    parsed = [tfr.parse_example(r, spec) for r in raws]
    assert [p["id"] for p in parsed] == [b"im0", b"im1", b"im2", b"im3"]
    assert parsed[3]["n"].tolist() == list(range(120))
    assert list(tfr.split_records(b"", "empty")) == []
    with pytest.raises(FashionDataError, match=r"x\.tfrecord: record 3 is truncated \(\d+ bytes"):
        list(tfr.split_records(data[:-1], str(path)))
    end_of_2 = sum(12 + len(e) + 4 for e in examples[:3])
    with pytest.raises(FashionDataError, match=r"record 3 is truncated \(its header"):
        list(tfr.split_records(data[: end_of_2 + 5], str(path)))
