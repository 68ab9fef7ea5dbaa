//! Choosing the compute device: burn's flex backend on the CPU or wgpu on a GPU, one code path;
//! optionally burn's LibTorch backend on the CPU (the `libtorch` feature, see the Speed chapter).

use burn::tensor::Device;
#[cfg(feature = "gpu")]
use burn::tensor::DeviceKind;
use serde::{Deserialize, Serialize};

/// What the user asked for with `--device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware wgpu adapter if one exists, else flex.
    Auto,
    /// burn's flex backend (pure Rust, multi-threaded CPU).
    Cpu,
    /// burn's wgpu backend on the default adapter (a software adapter such as lavapipe counts).
    Gpu,
    /// burn's LibTorch backend on the CPU: PyTorch's own kernels under burn. Needs a build with the
    /// `libtorch` feature (linked against a local PyTorch, see the README); otherwise flex.
    Libtorch,
}

/// The device that was chosen, with a description for every output.
#[derive(Clone, Debug)]
pub struct ChosenDevice {
    /// The burn device (without autodiff).
    pub device: Device,
    /// `flex`, `wgpu` or `libtorch`.
    pub backend: &'static str,
    /// Human-readable description, e.g. `flex (CPU, 2 threads)` or `wgpu: NVIDIA H200 (Vulkan)`.
    pub description: String,
}

/// Adapters wgpu can see: (name, backend, device type), probed without creating a burn device.
/// Empty when the crate is built without the `gpu` feature.
#[cfg(feature = "gpu")]
pub fn wgpu_adapters() -> Vec<(String, String, String)> {
    let instance = wgpu::Instance::default();
    let adapters = futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters
        .into_iter()
        .map(|a| {
            let info = a.get_info();
            (info.name, format!("{:?}", info.backend), format!("{:?}", info.device_type))
        })
        .collect()
}

/// Adapters wgpu can see: none, since the crate was built without the `gpu` feature.
#[cfg(not(feature = "gpu"))]
pub fn wgpu_adapters() -> Vec<(String, String, String)> {
    Vec::new()
}

impl DeviceChoice {
    /// The choice as written on the command line (`auto`, `cpu`, `gpu`, `libtorch`).
    pub fn name(self) -> &'static str {
        match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Gpu => "gpu",
            DeviceChoice::Libtorch => "libtorch",
        }
    }

    /// Resolve the choice to a device. `auto` picks wgpu only for a hardware adapter (a CPU
    /// software rasteriser such as lavapipe is far slower than flex for training). In a build
    /// without the `gpu` feature every choice is flex; asking for `gpu` then says so on stderr
    /// and in the device description.
    pub fn resolve(self) -> ChosenDevice {
        let flex = || ChosenDevice { device: Device::flex(), backend: "flex", description: format!("flex (CPU, {} threads)", rayon_threads()) };
        #[cfg(feature = "gpu")]
        let gpu = |adapter: Option<(String, String, String)>| ChosenDevice {
            device: Device::wgpu(DeviceKind::DefaultDevice),
            backend: "wgpu",
            description: match adapter {
                Some((name, backend, kind)) => format!("wgpu: {name} ({backend}, {kind})"),
                None => "wgpu: default adapter".to_string(),
            },
        };
        #[cfg(not(feature = "gpu"))]
        let gpu = |_: Option<(String, String, String)>| {
            eprintln!("warning: relu-symmetries was built without the `gpu` feature; using flex (CPU)");
            let mut d = flex();
            d.description.push_str(" — built without the gpu feature");
            d
        };
        // burn 0.22 marks burn-tch deprecated (to be removed in a later release); it is kept here
        // as a measured option, not as the default (book/src/speed.md).
        #[cfg(feature = "libtorch")]
        #[allow(deprecated)]
        let libtorch = || ChosenDevice { device: Device::libtorch(), backend: "libtorch", description: format!("libtorch (CPU, {} threads)", tch_threads()) };
        #[cfg(not(feature = "libtorch"))]
        let libtorch = || {
            eprintln!("warning: relu-symmetries was built without the `libtorch` feature; using flex (CPU)");
            let mut d = flex();
            d.description.push_str(" — built without the libtorch feature");
            d
        };
        match self {
            DeviceChoice::Cpu => flex(),
            DeviceChoice::Libtorch => libtorch(),
            DeviceChoice::Gpu => gpu(wgpu_adapters().into_iter().next()),
            DeviceChoice::Auto => {
                let hw = wgpu_adapters().into_iter().find(|(_, _, kind)| kind != "Cpu");
                match hw {
                    Some(a) => gpu(Some(a)),
                    None => flex(),
                }
            }
        }
    }
}

/// LibTorch's intra-op threads: `OMP_NUM_THREADS` if set (as PyTorch reads it), else the cores.
#[cfg(feature = "libtorch")]
fn tch_threads() -> usize {
    std::env::var("OMP_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn a_choice_has_one_name_on_the_command_line_in_json_and_in_tables() {
        for &c in DeviceChoice::value_variants() {
            let cli = c.to_possible_value().expect("every choice is offered");
            assert_eq!(c.name(), cli.get_name());
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.name()));
            assert_eq!(DeviceChoice::from_str(c.name(), false), Ok(c));
        }
    }
}
