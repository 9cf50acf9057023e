#!/usr/bin/env bash
# Packs what a worker instance needs into ami-build/recog-worker.tar.gz: the release binary,
# the exported model with its manifest and labels, and the pinned Python requirements of the
# inference libraries. Run scripts/setup first.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --bin recog
tar -czf ami-build/recog-worker.tar.gz \
  target/release/recog \
  models/efficientnet_lite0.onnx models/efficientnet_lite0.pt models/efficientnet_lite0.json \
  models/imagenet_classes.txt models/requirements.txt
echo "wrote ami-build/recog-worker.tar.gz"
