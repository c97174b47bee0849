//! Which backbone regimes a grid trains: the tuned heads are chosen per regime where it has both,
//! and the report's prose names them.

use ablate_spec::Experiment;

/// Which backbone regimes the grid trains: frozen features, the backbone fine-tuned with the head,
/// or both (the `backbone` axis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Regimes {
    Frozen,
    Finetuned,
    Both,
}

impl Regimes {
    pub(crate) fn of(e: &Experiment) -> Self {
        let variants = e.head_variants();
        match (
            variants.iter().any(|v| !v.finetuned()),
            variants.iter().any(|v| v.finetuned()),
        ) {
            (_, false) => Regimes::Frozen,
            (false, true) => Regimes::Finetuned,
            (true, true) => Regimes::Both,
        }
    }

    /// "frozen {backbone} features" and the like: how the heads were trained, for the answer's first line; `backbone` is `None` for a ready
    /// features file (which can only be frozen).
    pub(crate) fn trained_on(self, backbone: Option<&str>) -> String {
        let Some(backbone) = backbone else {
            return "its features as given (no backbone: the heads train on them, frozen)".into();
        };
        match self {
            Regimes::Frozen => format!("the frozen features of {backbone}"),
            Regimes::Finetuned => format!("{backbone} fine-tuned with each head"),
            Regimes::Both => format!(
                "{backbone} both frozen (heads on its features) and fine-tuned with each head"
            ),
        }
    }
}
