#!/usr/bin/env python3
"""Reference outputs for recog, computed with PyTorch from an export.py manifest.

Preprocessing follows the manifest exactly, without torchvision:
  decode to RGB; resize "short_side" (short side -> resize_to, long side ->
  int(resize_to * long / short), PIL bilinear) or "exact" (resize_to x resize_to);
  centre crop crop x crop (top = int(round((h - crop) / 2)), left likewise);
  value = (pixel * scale - mean[c]) / std[c] in float32, CHW.

  --images DIR --out CSV          top-1 of every image in DIR (sorted by name) as
                                  CSV "image,label,index,score" (score = softmax)
  --tensor IMAGE --tensor-out F   IMAGE's preprocessed [3,H,W] tensor as raw
                                  little-endian float32 (C order)
"""

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def preprocess(path: Path, spec: dict) -> np.ndarray:
    """Decode and preprocess one image into a float32 [3,H,W] array."""
    if spec["interpolation"] != "bilinear":
        raise ValueError(f"unsupported interpolation {spec['interpolation']!r}")
    image = Image.open(path).convert("RGB")
    size = spec["resize_to"]
    if spec["resize"] == "short_side":
        w, h = image.size
        if w <= h:
            target = (size, int(size * h / w))
        else:
            target = (int(size * w / h), size)
    elif spec["resize"] == "exact":
        target = (size, size)
    else:
        raise ValueError(f"unsupported resize {spec['resize']!r}")
    image = image.resize(target, Image.BILINEAR)

    crop = spec["crop"]
    w, h = image.size
    if crop > min(w, h):
        raise ValueError(f"crop {crop} exceeds resized image {w}x{h}")
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    image = image.crop((left, top, left + crop, top + crop))

    pixels = np.asarray(image, dtype=np.float32)
    mean = np.asarray(spec["mean"], dtype=np.float32)
    std = np.asarray(spec["std"], dtype=np.float32)
    values = (pixels * np.float32(spec["scale"]) - mean) / std
    return np.ascontiguousarray(values.transpose(2, 0, 1), dtype=np.float32)


def classify(manifest_path: Path, images: Path, out: Path) -> None:
    """Write the top-1 class of every image in `images` to the CSV `out`."""
    root = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    labels = (root / manifest["labels"]).read_text().splitlines()
    model = torch.jit.load(str(root / manifest["torchscript"]), map_location="cpu").eval()
    files = sorted(p for p in images.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        sys.exit(f"no images in {images}")

    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f, torch.inference_mode():
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["image", "label", "index", "score"])
        for path in files:
            x = torch.from_numpy(preprocess(path, manifest["preprocess"])).unsqueeze(0)
            probs = torch.softmax(model(x)[0], dim=0)
            index = int(torch.argmax(probs))
            writer.writerow([path.name, labels[index], index, f"{float(probs[index]):.6f}"])
    print(f"wrote {out} ({len(files)} images)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, required=True, help="manifest written by export.py")
    parser.add_argument("--images", type=Path, help="directory of images to classify")
    parser.add_argument("--out", type=Path, help="CSV file to write (with --images)")
    parser.add_argument("--tensor", type=Path, help="image whose preprocessed tensor to dump")
    parser.add_argument("--tensor-out", type=Path, help="raw float32 file to write (with --tensor)")
    args = parser.parse_args()

    if (args.images is None) != (args.out is None):
        parser.error("--images and --out go together")
    if (args.tensor is None) != (args.tensor_out is None):
        parser.error("--tensor and --tensor-out go together")
    if args.images is None and args.tensor is None:
        parser.error("nothing to do: give --images/--out and/or --tensor/--tensor-out")

    if args.images is not None:
        classify(args.manifest, args.images, args.out)
    if args.tensor is not None:
        spec = json.loads(args.manifest.read_text())["preprocess"]
        tensor = preprocess(args.tensor, spec)
        args.tensor_out.parent.mkdir(parents=True, exist_ok=True)
        args.tensor_out.write_bytes(tensor.astype("<f4").tobytes(order="C"))
        print(f"wrote {args.tensor_out} (float32 {list(tensor.shape)})")


if __name__ == "__main__":
    main()
