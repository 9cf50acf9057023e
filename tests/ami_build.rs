//! The worker image's files are valid: the Packer template validates, the scripts pass
//! shellcheck, and the systemd unit verifies against a root holding the binary it starts.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::ROOT;

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .expect("scripts/setup installs packer, shellcheck and systemd");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{log}");
    output
}

#[test]
fn packer_template_validates() {
    let bundle = tempfile::NamedTempFile::new().unwrap();
    let mut packer = Command::new("packer");
    packer.current_dir(ROOT).env("CHECKPOINT_DISABLE", "1");
    packer
        .args(["validate", "-var"])
        .arg(format!("bundle={}", bundle.path().display()));
    run(packer.arg("ami-build/worker.pkr.hcl"));
}

#[test]
fn shell_scripts_pass_shellcheck() {
    let scripts = [
        "ami-build/provision.sh",
        "ami-build/bundle.sh",
        "scripts/setup",
        "scripts/test",
        ".ci/run",
    ];
    run(Command::new("shellcheck").current_dir(ROOT).args(scripts));
}

#[test]
fn systemd_unit_verifies_cleanly() {
    let root = tempfile::tempdir().unwrap();
    let binary = root.path().join("opt/recog/target/release");
    std::fs::create_dir_all(&binary).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_recog"), binary.join("recog")).unwrap();
    let units = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::copy(
        Path::new(ROOT).join("ami-build/recog-worker.service"),
        units.join("recog-worker.service"),
    )
    .unwrap();
    // The targets the unit orders itself after come from the host's systemd.
    let system = root.path().join("usr/lib/systemd");
    std::fs::create_dir_all(&system).unwrap();
    run(Command::new("cp")
        .arg("-r")
        .arg("/usr/lib/systemd/system")
        .arg(&system));

    let mut verify = Command::new("systemd-analyze");
    verify
        .arg("verify")
        .arg(format!("--root={}", root.path().display()));
    let output = run(verify.arg("/etc/systemd/system/recog-worker.service"));
    let warnings = String::from_utf8_lossy(&output.stderr);
    assert!(warnings.trim().is_empty(), "{warnings}");
}
