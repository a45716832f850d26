//! The output panel: shows the selected node's output with the viewers of [`crate::viewers`].

pub use crate::viewers::OutputView;
