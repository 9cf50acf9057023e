#!/usr/bin/env bash
# Runs on the image's build instance, as root: unpacks the bundle into /opt/recog, installs ONNX
# Runtime and libtorch from PyPI beside it (the binary finds libtorch through an rpath relative
# to itself), and enables the worker's systemd unit.
set -euo pipefail

apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  python3-venv ca-certificates

install -d /opt/recog /etc/recog
tar -xzf /tmp/recog-worker.tar.gz -C /opt/recog
python3 -m venv /opt/recog/.venv
/opt/recog/.venv/bin/pip install --quiet -r /opt/recog/models/requirements.txt

site=/opt/recog/.venv/lib/python3.11/site-packages
libraries=("$site"/onnxruntime/capi/libonnxruntime.so.*)
ln -sfn "${libraries[0]}" /opt/recog/models/libonnxruntime.so

id recog >/dev/null 2>&1 || useradd --system --home-dir /opt/recog --shell /usr/sbin/nologin recog
install -m 0644 /tmp/recog-worker.service /etc/systemd/system/recog-worker.service
touch /etc/recog/worker.env
systemctl daemon-reload
systemctl enable recog-worker.service
