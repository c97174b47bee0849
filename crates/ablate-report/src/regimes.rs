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
    pub(crate) fn trained_on(self, backbone: Option<&str>, freeze_stages: usize) -> String {
        let Some(backbone) = backbone else {
            return "its features as given (no backbone: the heads train on them, frozen)".into();
        };
        let tuned = match freeze_stages {
            0 => "fine-tuned with each head".to_string(),
            n => format!(
                "its top fine-tuned with each head ({} and the head conv train; the stem and \
                 the stages below stay frozen)",
                stages_from(n)
            ),
        };
        match self {
            Regimes::Frozen => format!("the frozen features of {backbone}"),
            Regimes::Finetuned => format!("{backbone}, {tuned}"),
            Regimes::Both => format!("{backbone} both frozen (heads on its features) and {tuned}"),
        }
    }
}

/// The stages that train above `frozen` frozen ones, 1-based as the architecture tables count
/// them: "the last stage", "stages 6 and 7", "stages 3 to 7".
pub(crate) fn stages_from(frozen: usize) -> String {
    match frozen + 1 {
        7 => "the last stage".into(),
        6 => "stages 6 and 7".into(),
        first => format!("stages {first} to 7"),
    }
}
