"""Make a BNVIZ_DATA_DIR holding MNIST from the 10,000 test digits in /work/shared/datasets/mnist.

The first 8,000 digits become the training files, the last 2,000 the test files, in the
original gzip IDX format, so `load_dataset` reads them like a real MNIST download:

    python bench/prepare_mnist.py /tmp/bnviz-data
    BNVIZ_DATA_DIR=/tmp/bnviz-data python -m bnviz reproduce --fast
    # or: python -m bnviz reproduce --fast --data-dir /tmp/bnviz-data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "datasets" / "mnist"
N_TRAIN = 8000


def prepare(target: Path, source: Path = SOURCE, n_train: int = N_TRAIN) -> Path:
    """Write `target/mnist/{train,t10k}-{images,labels}-*.gz`; returns the data dir (`target`)."""
    from bnviz.data.loading import read_idx_gz, write_idx_gz

    images, labels = source / "t10k-images-idx3-ubyte.gz", source / "t10k-labels-idx1-ubyte.gz"
    for path in (images, labels):
        if not path.is_file():
            raise SystemExit(f"missing {path}: the MNIST test digits are needed to build the data dir")
    x, y = read_idx_gz(images), read_idx_gz(labels)
    if not 0 < n_train < len(x):
        raise SystemExit(f"--n-train must be between 1 and {len(x) - 1}, got {n_train}")
    folder = target / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    write_idx_gz(folder / "train-images-idx3-ubyte.gz", x[:n_train])
    write_idx_gz(folder / "train-labels-idx1-ubyte.gz", y[:n_train])
    write_idx_gz(folder / "t10k-images-idx3-ubyte.gz", x[n_train:])
    write_idx_gz(folder / "t10k-labels-idx1-ubyte.gz", y[n_train:])
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="the data dir to create (MNIST goes into TARGET/mnist)")
    parser.add_argument("--source", type=Path, default=SOURCE, help=f"folder of the t10k files (default {SOURCE})")
    parser.add_argument("--n-train", type=int, default=N_TRAIN, help="digits used for training (default 8000)")
    args = parser.parse_args(argv)
    root = prepare(args.target, args.source, args.n_train)
    print(f"wrote {root / 'mnist'}; use --data-dir {root} (or BNVIZ_DATA_DIR={root})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
