#!/usr/bin/env python3
"""The baseline recog is measured against: a hand-rolled Flask classifier.

It serves the same model with the same preprocessing (models/reference.py, PIL) through
onnxruntime, one image per forward pass, on Flask's threaded server: what a team writes in an
afternoon. Measure it exactly as recog is measured:

    .venv/bin/python benches/baseline/flask_app.py --port 8090 &
    target/debug/recog loadtest http://127.0.0.1:8090/ --images ../shared/data/imagenet-100 \\
        --expected models/reference/efficientnet_lite0-top1.csv
"""

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
from flask import Flask, request

MODELS = Path(__file__).resolve().parents[2] / "models"
sys.path.insert(0, str(MODELS))
from reference import preprocess  # noqa: E402


def create_app(manifest_path: Path, threads: int) -> Flask:
    manifest = json.loads(manifest_path.read_text())
    labels = (manifest_path.parent / manifest["labels"]).read_text().splitlines()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(manifest_path.parent / manifest["onnx"]), options, providers=["CPUExecutionProvider"]
    )
    app = Flask(__name__)

    @app.post("/")
    def classify():
        upload = request.files.get("myfile") or request.files.get("inputFile")
        if upload is None:
            return "no file part\n", 400
        tensor = preprocess(io.BytesIO(upload.read()), manifest["preprocess"])
        logits = session.run(None, {manifest["input_name"]: tensor[np.newaxis]})[0][0]
        return labels[int(np.argmax(logits))]

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads per forward pass")
    parser.add_argument("--manifest", type=Path, default=MODELS / "efficientnet_lite0.json")
    args = parser.parse_args()
    create_app(args.manifest, args.threads).run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
