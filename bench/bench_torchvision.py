"""torchvision's maskrcnn_resnet50_fpn timed the way bench_model.py times ours, for a side-by-side.

torchvision is not a dependency of this project: run this script with a separate interpreter that
has torch + torchvision, then bench_model.py with the project's, one after the other on a quiet
machine:

    python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tv/bin/python bench/bench_torchvision.py --sizes 256 512 --threads 2
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/bench_model.py --sizes 256 512 --threads 2

Same workload as bench_model.py: 47 classes, random weights (timing does not depend on them),
batch 1 inference on a square image, batch 2 training step with all layers trainable and a few
ground-truth instances per image, medians after a warm-up. torchvision's model resizes inputs
internally (``min_size`` / ``max_size``); both are set to the benchmark size so both models see
the same resolution.
"""

from __future__ import annotations

import argparse
import statistics
import time


def _targets(torch, size: int, n: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    boxes, masks = [], []
    for _ in range(n):
        y1, x1 = (torch.randint(0, size // 2, (2,), generator=g)).tolist()
        h, w = (torch.randint(size // 8, size // 2, (2,), generator=g)).tolist()
        boxes.append([x1, y1, x1 + w, y1 + h])
        m = torch.zeros(size, size, dtype=torch.uint8)
        m[y1 : y1 + h, x1 : x1 + w] = 1
        masks.append(m)
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32),
        "labels": torch.randint(1, 47, (n,), generator=g),
        "masks": torch.stack(masks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch
    import torchvision
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    torch.set_num_threads(args.threads)
    print(f"threads={args.threads} torch={torch.__version__} torchvision={torchvision.__version__}")
    for size in args.sizes:
        model = maskrcnn_resnet50_fpn(
            weights=None, weights_backbone=None, num_classes=47, min_size=size, max_size=size
        )
        image = torch.rand(3, size, size)
        model.eval()
        with torch.no_grad():
            start = time.perf_counter()
            model([image])
            first = time.perf_counter() - start
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                model([image])
                times.append(time.perf_counter() - start)
        print(
            f"{size}px inference batch 1: first {first:.2f}s, then median "
            f"{statistics.median(times):.3f}s over {args.repeats}"
        )
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        images = [torch.rand(3, size, size), torch.rand(3, size, size)]
        targets = [_targets(torch, size, seed=1), _targets(torch, size, seed=2)]
        times = []
        for step in range(args.repeats + 1):
            start = time.perf_counter()
            losses = model(images, targets)
            loss = sum(losses.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step:
                times.append(time.perf_counter() - start)
        print(
            f"{size}px training step batch 2 (all layers): median "
            f"{statistics.median(times):.3f}s over {args.repeats}"
        )


if __name__ == "__main__":
    main()
