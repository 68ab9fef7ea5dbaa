//! The dihedral group D4 of the square, acting on the two trailing (spatial) axes of a tensor.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// One symmetry of the square: `x ↦ rot^r(hflip^f(x))`, `r` quarter turns counter-clockwise
/// after an optional horizontal (left–right) flip.
///
/// Acting on a tensor of shape `[.., H, W]` it moves the last two axes only, so the same element
/// acts on image batches `[N, C, H, W]`, feature maps, and conv kernels `[C_out, C_in, kH, kW]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct D4 {
    /// Quarter turns counter-clockwise, in `0..4`.
    pub rot: u8,
    /// Whether a horizontal flip is applied first.
    pub flip: bool,
}

impl D4 {
    /// The identity.
    pub const IDENTITY: D4 = D4 { rot: 0, flip: false };
    /// The horizontal (left–right) flip `h`: reverses the width axis.
    pub const HFLIP: D4 = D4 { rot: 0, flip: true };
    /// The vertical (top–bottom) flip: reverses the height axis (= rot² ∘ hflip).
    pub const VFLIP: D4 = D4 { rot: 2, flip: true };
    /// A quarter turn counter-clockwise.
    pub const ROT90: D4 = D4 { rot: 1, flip: false };

    /// All eight elements.
    pub fn all() -> Vec<D4> {
        (0..4).flat_map(|rot| [false, true].map(|flip| D4 { rot, flip })).collect()
    }

    /// The composition `self ∘ other` (apply `other` first).
    ///
    /// Uses `hflip ∘ rot = rot⁻¹ ∘ hflip`.
    pub fn compose(self, other: D4) -> D4 {
        let r_other = if self.flip { (4 - other.rot) % 4 } else { other.rot };
        D4 { rot: (self.rot + r_other) % 4, flip: self.flip ^ other.flip }
    }

    /// The inverse element.
    pub fn inverse(self) -> D4 {
        if self.flip { self } else { D4 { rot: (4 - self.rot) % 4, flip: false } }
    }

    /// A short name: `e`, `h`, `v`, `r1`, `r2`, `r3`, `r1h`, `r3h`.
    pub fn name(self) -> String {
        match (self.rot, self.flip) {
            (0, false) => "e".into(),
            (0, true) => "h".into(),
            (2, true) => "v".into(),
            (r, false) => format!("r{r}"),
            (r, true) => format!("r{r}h"),
        }
    }

    /// Apply to the last two axes of a rank-`D` tensor (`D ≥ 2`; rotations need `H = W`).
    ///
    /// Shapes: `[.., H, W] → [.., H, W]` (for odd quarter turns `[.., W, H]`).
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        let (h_axis, w_axis) = (D - 2, D - 1);
        let mut x = if self.flip { x.flip([w_axis]) } else { x };
        for _ in 0..self.rot {
            // counter-clockwise quarter turn: out[i][j] = in[j][W-1-i]
            x = x.swap_dims(h_axis, w_axis).flip([h_axis]);
        }
        x
    }

    /// Apply to one host-side `h×w` plane stored row-major (used by the data pipeline and tests).
    pub fn apply_plane<T: Copy>(self, src: &[T], h: usize, w: usize) -> Vec<T> {
        assert_eq!(src.len(), h * w, "plane has {} values, expected {h}×{w}", src.len());
        let mut cur: Vec<T> = if self.flip { (0..h * w).map(|k| src[(k / w) * w + (w - 1 - k % w)]).collect() } else { src.to_vec() };
        let (mut ch, mut cw) = (h, w);
        for _ in 0..self.rot {
            // out has shape (cw, ch): out[i][j] = cur[j][cw-1-i]
            let next = (0..ch * cw).map(|k| cur[(k % ch) * cw + (cw - 1 - k / ch)]).collect();
            cur = next;
            std::mem::swap(&mut ch, &mut cw);
        }
        cur
    }
}

impl std::fmt::Display for D4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn d4_composition_is_a_group_law() {
        let all = D4::all();
        for &a in &all {
            assert_eq!(a.compose(D4::IDENTITY), a);
            assert_eq!(a.compose(a.inverse()), D4::IDENTITY);
            for &b in &all {
                for &c in &all {
                    assert_eq!(a.compose(b).compose(c), a.compose(b.compose(c)));
                }
            }
        }
        assert_eq!(D4::HFLIP.compose(D4::HFLIP), D4::IDENTITY);
        assert_eq!(D4::ROT90.compose(D4::ROT90).compose(D4::HFLIP), D4::VFLIP);
    }

    #[test]
    fn tensor_action_matches_plane_action_and_composition() {
        let device = Device::flex();
        let (h, w) = (3, 3);
        let plane: Vec<f32> = (0..h * w).map(|v| v as f32).collect();
        let t = Tensor::<2>::from_data(TensorData::new(plane.clone(), [h, w]), &device);
        for g in D4::all() {
            let got = g.apply(t.clone()).into_data().try_into_vec::<f32>().unwrap();
            assert_eq!(got, g.apply_plane(&plane, h, w), "element {g}");
            for k in D4::all() {
                let lhs = g.compose(k).apply_plane(&plane, h, w);
                let rhs = g.apply_plane(&k.apply_plane(&plane, h, w), h, w);
                assert_eq!(lhs, rhs, "action of {g}∘{k}");
            }
        }
    }

    #[test]
    fn hflip_reverses_columns() {
        let plane = [1, 2, 3, 4, 5, 6];
        assert_eq!(D4::HFLIP.apply_plane(&plane, 2, 3), vec![3, 2, 1, 6, 5, 4]);
        assert_eq!(D4::VFLIP.apply_plane(&plane, 2, 3), vec![4, 5, 6, 1, 2, 3]);
    }
}
