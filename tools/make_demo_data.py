"""Generate the bundled synthetic fetal-ultrasound-like dataset (COCO format).

python tools/make_demo_data.py [--out-dir data/fetal_demo] [--num-train 200]
                               [--num-val 60] [--image-size 128] [--seed 0]
"""

import argparse
import time

from mmdet_balanced.study.demo_data import make_fetal_dataset


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out-dir", default="data/fetal_demo")
    parser.add_argument("--num-train", type=int, default=200)
    parser.add_argument("--num-val", type=int, default=60)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    paths = make_fetal_dataset(
        args.out_dir, args.num_train, args.num_val, args.image_size, args.seed
    )
    print(
        f"wrote {args.num_train} train + {args.num_val} val images to {args.out_dir} "
        f"({paths['train']}, {paths['val']}) in {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
