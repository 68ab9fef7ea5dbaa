//! Loading torchvision's ResNet50 weights from a user's file: a PyTorch state dict (`.pth`,
//! `.pt`, e.g. `resnet50-11ad3fa6.pth`, the `IMAGENET1K_V2` weights) or a safetensors file with
//! the same tensor names, read through burn's own stores (`burn::store`).
//!
//! torchvision's names map onto [`ResNet50`]'s ([`super::resnet50`]) in one place,
//! [`torchvision_name`]: they are the same except that a BatchNorm's `weight`/`bias` are burn's
//! `gamma`/`beta`, and the classifier weight is transposed (torch `[out, in]`, burn `[in, out]`).
//! `num_batches_tracked` counters are ignored. Every float dtype is read as f32.
//!
//! The architecture is read off the file ([`infer_config`]): the width multiplier from
//! `conv1.weight`'s output channels (64 at width 1), the classes from `fc.weight`, the blocks
//! per stage from the `layerK.i` indices present. Every tensor the network needs must be in the
//! file with exactly the network's shape, and every tensor of the file must be used; errors name
//! the file and the tensor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[cfg(feature = "pytorch")]
use burn::store::PytorchStore;
use burn::store::{ModuleStore, SafetensorsStore, bridge};
use burn::tensor::Device;
use ndarray::{ArrayD, IxDyn};

use super::params::ParamMap;
use super::resnet50::{ResNet50, ResNet50Config};
use super::structure::LayerKind;
use super::vgg::VggError;

/// A weights file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be read as a PyTorch or safetensors file.
    #[error("cannot read weights file {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// A tensor the network needs is not in the file.
    #[error("{path}: tensor {tensor} is missing (a torchvision ResNet50 state dict is expected)")]
    Missing {
        /// The file.
        path: PathBuf,
        /// torchvision's name of the tensor.
        tensor: String,
    },
    /// A tensor has another shape than the network needs.
    #[error("{path}: tensor {tensor} has shape {found:?}, the network needs {expected:?} (torch layout)")]
    Shape {
        /// The file.
        path: PathBuf,
        /// torchvision's name of the tensor.
        tensor: String,
        /// The shape in the file.
        found: Vec<usize>,
        /// The shape a ResNet50 of the inferred configuration needs, in torch's layout.
        expected: Vec<usize>,
    },
    /// The file holds a tensor that a ResNet50 does not have (another architecture?).
    #[error("{path}: unexpected tensor {tensor} (not part of a torchvision ResNet50)")]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// Its name.
        tensor: String,
    },
    /// A tensor could not be read as f32.
    #[error("{path}: tensor {tensor} cannot be read as f32: {message}")]
    Data {
        /// The file.
        path: PathBuf,
        /// Its name.
        tensor: String,
        /// Why.
        message: String,
    },
    /// The architecture read off the file is not a valid configuration.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: VggError,
    },
}

/// torchvision's name of one of [`ResNet50`]'s parameters (its [`ResNet50::to_params`] name)
/// of layer kind `kind`: BatchNorm `gamma`/`beta` are `weight`/`bias`, all else is unchanged.
pub fn torchvision_name(name: &str, kind: LayerKind) -> String {
    match (kind, name.rsplit_once('.')) {
        (LayerKind::BatchNorm, Some((layer, "gamma"))) => format!("{layer}.weight"),
        (LayerKind::BatchNorm, Some((layer, "beta"))) => format!("{layer}.bias"),
        _ => name.to_string(),
    }
}

/// Every tensor of a state-dict file, by its name in the file, as f32 host arrays (torch's
/// layout). A `.safetensors` file is read as safetensors, anything else as a PyTorch
/// checkpoint; a `module.` prefix on every name (`nn.DataParallel`) is removed, and
/// `num_batches_tracked` counters are dropped.
pub fn read_state_dict(path: &Path) -> Result<BTreeMap<String, ArrayD<f32>>, WeightsError> {
    let read_err = |message: String| WeightsError::Read { path: path.to_path_buf(), message };
    if !path.is_file() {
        return Err(read_err("no such file".into()));
    }
    let is_safetensors = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    let mut st;
    #[cfg(feature = "pytorch")]
    let mut pt;
    let store: &mut dyn StoreTensors = if is_safetensors {
        st = SafetensorsStore::from_file(path).map_indices_contiguous(false);
        &mut st
    } else {
        #[cfg(feature = "pytorch")]
        {
            pt = PytorchStore::from_file(path).map_indices_contiguous(false);
            &mut pt
        }
        #[cfg(not(feature = "pytorch"))]
        return Err(read_err("reading a PyTorch checkpoint needs the crate's `pytorch` feature (on by default); or convert it to .safetensors".into()));
    };
    let tensors = store.tensors().map_err(read_err)?;
    let strip = !tensors.is_empty() && tensors.keys().all(|k| k.starts_with("module."));
    let mut out = BTreeMap::new();
    for (name, t) in tensors {
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        let data_err = |message: String| WeightsError::Data { path: path.to_path_buf(), tensor: name.clone(), message };
        let data = bridge::to_data(t).map_err(|e| data_err(e.to_string()))?;
        let shape: Vec<usize> = data.shape().iter().copied().collect();
        let values: Vec<f32> = data.convert::<f32>().try_into_vec::<f32>().map_err(|e| data_err(format!("{e:?}")))?;
        let array = ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| data_err(e.to_string()))?;
        let key = if strip { name.trim_start_matches("module.").to_string() } else { name.clone() };
        out.insert(key, array);
    }
    Ok(out)
}

/// The two stores behind one call (the `ModuleStore` trait is not object safe).
trait StoreTensors {
    fn tensors(&mut self) -> Result<&BTreeMap<String, burn::store::burn_pack::Tensor>, String>;
}

impl StoreTensors for SafetensorsStore {
    fn tensors(&mut self) -> Result<&BTreeMap<String, burn::store::burn_pack::Tensor>, String> {
        self.get_all_tensors().map_err(|e| e.to_string())
    }
}

#[cfg(feature = "pytorch")]
impl StoreTensors for PytorchStore {
    fn tensors(&mut self) -> Result<&BTreeMap<String, burn::store::burn_pack::Tensor>, String> {
        self.get_all_tensors().map_err(|e| e.to_string())
    }
}

/// The ResNet50 configuration of a torchvision state dict (see the module docs).
pub fn infer_config(path: &Path, state: &BTreeMap<String, ArrayD<f32>>) -> Result<ResNet50Config, WeightsError> {
    let shape = |name: &str, rank: usize| -> Result<Vec<usize>, WeightsError> {
        let a = state.get(name).ok_or_else(|| WeightsError::Missing { path: path.to_path_buf(), tensor: name.to_string() })?;
        if a.ndim() != rank {
            return Err(WeightsError::Shape { path: path.to_path_buf(), tensor: name.to_string(), found: a.shape().to_vec(), expected: vec![0; rank] });
        }
        Ok(a.shape().to_vec())
    };
    let stem = shape("conv1.weight", 4)?;
    let fc = shape("fc.weight", 2)?;
    let blocks = [1, 2, 3, 4].map(|k| (0..).take_while(|i| state.contains_key(&format!("layer{k}.{i}.conv1.weight"))).count());
    let cfg = ResNet50Config { blocks, width: stem[0] as f64 / 64.0, num_classes: fc[0], in_channels: stem[1], strided: true };
    cfg.validate().map_err(|source| WeightsError::Config { path: path.to_path_buf(), source })?;
    Ok(cfg)
}

/// The parameters of `net` from a torchvision state dict (torch names and layouts), checked
/// tensor by tensor: each one `net` needs must be present with `net`'s shape, and no other may be.
pub fn params_from_state_dict(net: &ResNet50, path: &Path, state: &BTreeMap<String, ArrayD<f32>>) -> Result<ParamMap, WeightsError> {
    let own = net.to_params();
    let mut params = ParamMap::new();
    let mut used = std::collections::BTreeSet::new();
    for p in net.structure().params {
        let torch = torchvision_name(&p.name, p.kind);
        let transpose = p.kind == LayerKind::Linear && p.name.ends_with(".weight");
        let want = &own[&p.name];
        let expected: Vec<usize> = if transpose { want.shape().iter().rev().copied().collect() } else { want.shape().to_vec() };
        let a = state.get(&torch).ok_or_else(|| WeightsError::Missing { path: path.to_path_buf(), tensor: torch.clone() })?;
        if a.shape() != expected.as_slice() {
            return Err(WeightsError::Shape { path: path.to_path_buf(), tensor: torch, found: a.shape().to_vec(), expected });
        }
        let a = if transpose { a.t().as_standard_layout().into_owned() } else { a.clone() };
        params.insert(p.name.clone(), a);
        used.insert(torch);
    }
    if let Some(extra) = state.keys().find(|k| !used.contains(*k)) {
        return Err(WeightsError::Unexpected { path: path.to_path_buf(), tensor: extra.clone() });
    }
    Ok(params)
}

impl ResNet50 {
    /// torchvision's ResNet50 from a state-dict file (`.pth`/`.pt` or `.safetensors`), its
    /// architecture read off the file (see the module docs).
    pub fn from_torchvision(path: &Path, device: &Device) -> Result<ResNet50, WeightsError> {
        let state = read_state_dict(path)?;
        let cfg = infer_config(path, &state)?;
        let net = cfg.init(device, 0).map_err(|source| WeightsError::Config { path: path.to_path_buf(), source })?;
        let params = params_from_state_dict(&net, path, &state)?;
        Ok(net.with_params(&params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_norm_affine_names_are_torchs_weight_and_bias_and_the_rest_is_unchanged() {
        assert_eq!(torchvision_name("layer1.0.bn2.gamma", LayerKind::BatchNorm), "layer1.0.bn2.weight");
        assert_eq!(torchvision_name("layer2.0.downsample.1.beta", LayerKind::BatchNorm), "layer2.0.downsample.1.bias");
        assert_eq!(torchvision_name("bn1.running_var", LayerKind::BatchNorm), "bn1.running_var");
        assert_eq!(torchvision_name("layer2.0.downsample.0.weight", LayerKind::Conv), "layer2.0.downsample.0.weight");
        assert_eq!(torchvision_name("fc.weight", LayerKind::Linear), "fc.weight");
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let e = ResNet50::from_torchvision(Path::new("/nonexistent/resnet50.pth"), &Device::flex()).unwrap_err();
        assert!(matches!(e, WeightsError::Read { .. }) && e.to_string().contains("/nonexistent/resnet50.pth"), "{e}");
    }
}
