//! `rolemirror mender module|inventory|deb-artifact`: the booth's side of Mender
//! (`crate::fleet`, docs/fleet.md). `bundle create --mender` (in `usb.rs`) makes bundle
//! artifacts.

use std::io::Write;
use std::time::Duration;

use super::args::MenderAction;
use super::ExitCode;
use crate::fleet::{self, artifact, deb, inventory, ModuleOptions};
use crate::usb::install::Store;

/// `mender …`.
pub fn run(action: &MenderAction, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    match action {
        MenderAction::Module { kind, state, dir, config, booth_timeout, dpkg_root } => {
            let opts =
                ModuleOptions { config: config.clone(), booth_timeout: Duration::from_secs(*booth_timeout), dpkg_root: dpkg_root.clone() };
            match fleet::run_module(kind, state, dir, &opts) {
                Ok(Some(answer)) => writeln!(out, "{answer}")?,
                Ok(None) => {}
                Err(why) => {
                    // The client logs the module's output and fails (or rolls back) the deployment.
                    for line in why.lines() {
                        eprintln!("{kind}: {state} failed: {line}");
                    }
                    return Ok(ExitCode::InputFailed);
                }
            }
            Ok(ExitCode::Ok)
        }
        MenderAction::Inventory { config } => {
            let (cfg, report) = super::report::gather(config)?;
            let installed = Store::new(&cfg.gallery.dir).installed();
            write!(out, "{}", inventory::text(&inventory::attributes(&report, installed.as_ref())))?;
            Ok(ExitCode::Ok)
        }
        MenderAction::DebArtifact { deb: file, out: dest, common } => {
            let field = |name| deb::field(file, name).map_err(anyhow::Error::msg);
            let (package, version, arch) = (field("Package")?, field("Version")?, field("Architecture")?);
            if package != deb::PACKAGE {
                anyhow::bail!(
                    "{}: package {package:?}, not {:?}: the booth's rolemirror-deb module would refuse it",
                    file.display(),
                    deb::PACKAGE
                );
            }
            let name = common.artifact_name.clone().unwrap_or_else(|| format!("{package}-{version}-{arch}"));
            let spec = artifact::Spec {
                payload_type: deb::TYPE,
                name: name.clone(),
                device_types: &common.device_types,
                files: vec![file.clone()],
                provides: ("package", version.clone()),
                key: common.mender_key.as_deref(),
                scripts: &common.mender_scripts,
            };
            artifact::write(&spec, dest)?;
            writeln!(
                out,
                "wrote {} : artifact {name} for {}, payload {} ({package} {version})",
                dest.display(),
                common.device_types.join(", "),
                deb::TYPE
            )?;
            Ok(ExitCode::Ok)
        }
    }
}
