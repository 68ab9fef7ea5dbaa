//! Errors of permutation specs, applying permutations and matching.

/// Errors of permutation specs, applying permutations and matching.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AlignError {
    /// The structure lists an axis in a hidden space it does not have.
    #[error("structure: parameter `{param}` puts axis {axis} in hidden space {space}, but there are only {n_spaces} spaces")]
    UnknownSpace {
        /// Parameter name.
        param: String,
        /// The axis.
        axis: usize,
        /// The space index given.
        space: usize,
        /// Number of spaces in the structure.
        n_spaces: usize,
    },
    /// The structure lists one axis of a parameter twice.
    #[error("structure: parameter `{param}` lists axis {axis} more than once")]
    DuplicateAxis {
        /// Parameter name.
        param: String,
        /// The axis.
        axis: usize,
    },
    /// The structure describes one parameter twice.
    #[error("structure: parameter `{param}` is described more than once")]
    DuplicateParam {
        /// Parameter name.
        param: String,
    },
    /// A permutation set has the wrong number of permutations.
    #[error("expected {expected} permutations (one per group), got {got}")]
    PermCount {
        /// Number of groups.
        expected: usize,
        /// Number of permutations given.
        got: usize,
    },
    /// A permutation has the wrong length for its group.
    #[error("the permutation for group `{group}` has length {got}, but the group has {expected} channels")]
    PermSize {
        /// Group name.
        group: String,
        /// Group size.
        expected: usize,
        /// Permutation length.
        got: usize,
    },
    /// Two permutation sets disagree on the length of permutation `index`.
    #[error("cannot compose permutation sets: permutation {index} has length {outer} in one and {inner} in the other")]
    ComposeSize {
        /// Position in the set.
        index: usize,
        /// Length in the outer set.
        outer: usize,
        /// Length in the inner set.
        inner: usize,
    },
    /// A member parameter of a group is not in the parameter map.
    #[error("parameter `{param}` (member of group `{group}`) is missing from the parameter map")]
    MissingParam {
        /// Parameter name.
        param: String,
        /// Group name.
        group: String,
    },
    /// A member axis does not exist on the tensor.
    #[error("parameter `{param}` has {ndim} axes, but group `{group}` acts on its axis {axis}")]
    AxisOutOfRange {
        /// Parameter name.
        param: String,
        /// Group name.
        group: String,
        /// The axis.
        axis: usize,
        /// Number of axes of the tensor.
        ndim: usize,
    },
    /// A member axis has a different length than its group.
    #[error("axis {axis} of parameter `{param}` has length {len}, but group `{group}` has {size} channels")]
    AxisLength {
        /// Parameter name.
        param: String,
        /// Group name.
        group: String,
        /// The axis.
        axis: usize,
        /// Its length in the tensor.
        len: usize,
        /// The group size.
        size: usize,
    },
    /// The two networks being matched disagree on a parameter's shape.
    #[error("parameter `{param}` has shape {a:?} in the first network and {b:?} in the second")]
    ShapeMismatch {
        /// Parameter name.
        param: String,
        /// Shape in the first map.
        a: Vec<usize>,
        /// Shape in the second map.
        b: Vec<usize>,
    },
}
