# Builds the recog worker image from Debian 12's official AMI: the recog binary and the exported
# model from the bundle (ami-build/bundle.sh), ONNX Runtime and libtorch from PyPI, and a systemd
# unit that starts `recog worker` at boot and lets it drain on stop.
#
#   ami-build/bundle.sh
#   packer build -var bundle=ami-build/recog-worker.tar.gz ami-build/worker.pkr.hcl

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "instance_type" {
  type    = string
  default = "c6i.large"
}

variable "bundle" {
  type        = string
  description = "The tarball ami-build/bundle.sh writes."
}

source "amazon-ebs" "worker" {
  region        = var.region
  instance_type = var.instance_type
  ssh_username  = "admin"
  ami_name      = "recog-worker-${formatdate("YYYYMMDDhhmmss", timestamp())}"

  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["136693071363"]
    most_recent = true
  }

  tags = {
    Name = "recog-worker"
  }
}

build {
  sources = ["source.amazon-ebs.worker"]

  provisioner "file" {
    source      = var.bundle
    destination = "/tmp/recog-worker.tar.gz"
  }

  provisioner "file" {
    source      = "${path.root}/recog-worker.service"
    destination = "/tmp/recog-worker.service"
  }

  provisioner "shell" {
    script          = "${path.root}/provision.sh"
    execute_command = "sudo -E bash '{{ .Path }}'"
  }
}
