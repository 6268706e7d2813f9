"""The filter of TensorFlow's start-up lines (``fashion_mrcnn.tf_startup``): the known lines go,
everything else printed during the import stays, in order."""

from __future__ import annotations

from fashion_mrcnn.tf_startup import is_startup_noise, without_startup_noise

#: What ``import tensorflow`` printed on TensorFlow 2.21 (CPU) and 2.19 (Colab, GPU runtime).
STARTUP_2_21 = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796518596.946964    4311 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796518596.947333    4311 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796518599.198848    4311 cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1734000000.123456    1234 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to register factory for plugin cuDNN when one has already been registered
E0000 00:00:1734000000.123457    1234 cuda_blas.cc:1418] Unable to register cuBLAS factory: Attempting to register factory for plugin cuBLAS when one has already been registered
W0000 00:00:1734000000.123458    1234 computation_placer.cc:177] computation placer already registered. Please check linkage and avoid linking the same target more than once.
E0000 00:00:1734000001.000000    1234 cuda_executor.cc:1228] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
E0000 00:00:1796519978.146457   13008 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""  # noqa: E501


def test_the_known_start_up_lines_are_dropped():
    assert all(is_startup_noise(line) for line in STARTUP_2_21.splitlines())
    assert without_startup_noise(STARTUP_2_21) == ""


def test_other_lines_printed_during_the_import_stay_in_order():
    ours = [
        "/venv/lib/python3.11/site-packages/foo.py:3: UserWarning: something real\n",
        "  warnings.warn(\n",
        "E0000 00:00:1796518599.1 4311 op_kernel.cc:1857] OP_REQUIRES failed: a real error\n",
        "Segmentation fault\n",
    ]
    mixed = [*STARTUP_2_21.splitlines(keepends=True)[:3], ours[0], ours[1],
             *STARTUP_2_21.splitlines(keepends=True)[3:], ours[2], ours[3]]  # fmt: skip
    assert without_startup_noise("".join(mixed)) == "".join(ours)
