//! A small fully connected ReLU network
//!
//! f(x) = W_L σ(W_{L−1} σ(… σ(W_1 x + b_1) …) + b_{L−1}) + b_L,
//!
//! with ReLU between layers and none after the last. `layers[j−1]` holds (W_j, b_j) of the
//! paper; W_j has shape (n_j, n_{j−1}). Batches are row-major: `forward` maps an (N, n_0) matrix to
//! an (N, n_L) matrix, one sample per row.

use ndarray::{Array1, Array2, Axis, concatenate};

use super::TheoryError;
use super::linalg::relu;
use super::sample;

/// One affine layer z ↦ W z + b.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Weight W_j, shape (out, in).
    pub w: Array2<f64>,
    /// Bias b_j, length out.
    pub b: Array1<f64>,
}

impl Layer {
    /// A layer, checking that W and b fit.
    pub fn new(w: Array2<f64>, b: Array1<f64>) -> Result<Self, TheoryError> {
        if w.nrows() != b.len() {
            return Err(TheoryError::Shape(format!("layer: W is {}×{} but b has length {}", w.nrows(), w.ncols(), b.len())));
        }
        Ok(Self { w, b })
    }

    /// A layer with b = 0.
    pub fn without_bias(w: Array2<f64>) -> Self {
        let b = Array1::zeros(w.nrows());
        Self { w, b }
    }

    /// Input dimension n_{j−1}.
    pub fn in_dim(&self) -> usize {
        self.w.ncols()
    }

    /// Output dimension n_j.
    pub fn out_dim(&self) -> usize {
        self.w.nrows()
    }

    /// The augmented matrix `[W | b]` whose rows describe the neurons.
    pub fn augmented(&self) -> Array2<f64> {
        concatenate(Axis(1), &[self.w.view(), self.b.view().insert_axis(Axis(1))]).expect("W and b have matching rows")
    }

    /// z ↦ W z + b on a row-major batch.
    pub fn apply(&self, x: &Array2<f64>) -> Array2<f64> {
        x.dot(&self.w.t()) + &self.b
    }
}

/// A ReLU MLP: ReLU after every layer but the last.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// (W_1, b_1), …, (W_L, b_L).
    pub layers: Vec<Layer>,
}

impl Mlp {
    /// A network from its layers, checking that consecutive shapes fit.
    pub fn new(layers: Vec<Layer>) -> Result<Self, TheoryError> {
        if layers.is_empty() {
            return Err(TheoryError::Shape("an MLP needs at least one layer".into()));
        }
        for (j, pair) in layers.windows(2).enumerate() {
            if pair[1].in_dim() != pair[0].out_dim() {
                return Err(TheoryError::Shape(format!(
                    "layer {} outputs {} values but layer {} expects {}",
                    j + 1,
                    pair[0].out_dim(),
                    j + 2,
                    pair[1].in_dim()
                )));
            }
        }
        for l in &layers {
            Layer::new(l.w.clone(), l.b.clone())?;
        }
        Ok(Self { layers })
    }

    /// A bias-free network from its weight matrices.
    pub fn from_weights(ws: Vec<Array2<f64>>) -> Result<Self, TheoryError> {
        Self::new(ws.into_iter().map(Layer::without_bias).collect())
    }

    /// Random network with widths `[n_0, n_1, …, n_L]`: W_j ~ N(0, 2/n_{j−1}) (He), b_j ~ N(0, 0.1²).
    pub fn random(widths: &[usize], seed: u64) -> Result<Self, TheoryError> {
        let mut rng = sample::rng(seed);
        Self::random_with(&mut rng, widths, 0.1)
    }

    /// Random network from a given generator, with bias standard deviation `bias_std`.
    pub fn random_with(rng: &mut rand::rngs::StdRng, widths: &[usize], bias_std: f64) -> Result<Self, TheoryError> {
        if widths.len() < 2 {
            return Err(TheoryError::Shape("widths need at least input and output".into()));
        }
        let layers = widths
            .windows(2)
            .map(|io| {
                let std = (2.0 / io[0] as f64).sqrt();
                Layer { w: sample::normal_matrix(rng, io[1], io[0]) * std, b: sample::normal_vector(rng, io[1]) * bias_std }
            })
            .collect();
        Self::new(layers)
    }

    /// Number of layers L.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Input dimension n_0.
    pub fn input_dim(&self) -> usize {
        self.layers[0].in_dim()
    }

    /// Output dimension n_L.
    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].out_dim()
    }

    /// `[n_0, n_1, …, n_L]`.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.input_dim()).chain(self.layers.iter().map(Layer::out_dim)).collect()
    }

    /// Hidden widths `[n_1, …, n_{L−1}]`.
    pub fn hidden_widths(&self) -> Vec<usize> {
        self.layers[..self.layers.len() - 1].iter().map(Layer::out_dim).collect()
    }

    /// f on a row-major batch (N, n_0) → (N, n_L).
    pub fn forward(&self, x: &Array2<f64>) -> Array2<f64> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (j, layer) in self.layers.iter().enumerate() {
            h = layer.apply(&h);
            if j < last {
                h = relu(&h);
            }
        }
        h
    }

    /// f on one input vector.
    pub fn forward_one(&self, x: &Array1<f64>) -> Array1<f64> {
        self.forward(&x.view().insert_axis(Axis(0)).to_owned()).row(0).to_owned()
    }

    /// The post-ReLU activations of every hidden layer on a batch.
    pub fn hidden_activations(&self, x: &Array2<f64>) -> Vec<Array2<f64>> {
        let mut out = Vec::with_capacity(self.layers.len() - 1);
        let mut h = x.clone();
        for layer in &self.layers[..self.layers.len() - 1] {
            h = relu(&layer.apply(&h));
            out.push(h.clone());
        }
        out
    }

    /// max |f(x) − g(x)| over a batch (∞ if the output shapes differ).
    pub fn max_output_diff(&self, other: &Mlp, x: &Array2<f64>) -> f64 {
        super::linalg::max_abs_diff(&self.forward(x), &other.forward(x))
    }
}

#[cfg(test)]
mod tests {
    use super::super::linalg::from_rows;
    use super::*;

    #[test]
    fn forward_matches_the_formula_on_a_hand_computed_example() {
        let l1 = Layer::new(from_rows(&[vec![1.0, -1.0], vec![2.0, 0.0]]).unwrap(), Array1::from(vec![0.0, -1.0])).unwrap();
        let l2 = Layer::new(from_rows(&[vec![1.0, 1.0]]).unwrap(), Array1::from(vec![0.5])).unwrap();
        let f = Mlp::new(vec![l1, l2]).unwrap();
        // x = (1, 2): W1x+b1 = (−1, 1) → σ = (0, 1) → 1 + 0.5.
        assert_eq!(f.forward_one(&Array1::from(vec![1.0, 2.0]))[0], 1.5);
    }

    #[test]
    fn widths_and_hidden_widths_follow_the_layers() {
        let f = Mlp::random(&[3, 5, 4, 2], 0).unwrap();
        assert_eq!(f.widths(), vec![3, 5, 4, 2]);
        assert_eq!(f.hidden_widths(), vec![5, 4]);
        assert_eq!(f.depth(), 3);
        assert_eq!(f.hidden_activations(&Array2::zeros((7, 3)))[1].dim(), (7, 4));
    }

    #[test]
    fn random_init_is_reproducible_from_the_seed() {
        assert_eq!(Mlp::random(&[3, 4, 1], 9).unwrap(), Mlp::random(&[3, 4, 1], 9).unwrap());
        assert_ne!(Mlp::random(&[3, 4, 1], 9).unwrap(), Mlp::random(&[3, 4, 1], 10).unwrap());
    }

    #[test]
    fn mismatched_shapes_are_rejected() {
        let a = Layer::without_bias(Array2::zeros((4, 3)));
        let b = Layer::without_bias(Array2::zeros((2, 5)));
        assert!(matches!(Mlp::new(vec![a, b]), Err(TheoryError::Shape(_))));
    }

    #[test]
    fn batch_forward_equals_per_sample_forward() {
        let f = Mlp::random(&[3, 6, 2], 1).unwrap();
        let mut rng = sample::rng(2);
        let x = sample::normal_matrix(&mut rng, 10, 3);
        let y = f.forward(&x);
        for (i, row) in x.rows().into_iter().enumerate() {
            let yi = f.forward_one(&row.to_owned());
            assert!(yi.iter().zip(y.row(i).iter()).all(|(a, b)| (a - b).abs() < 1e-12));
        }
    }
}
