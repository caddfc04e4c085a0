//! Comparing gradient rules: every applicable rule's gradient on the same batches against
//! BPTT's, per tensor, as papers on approximate gradients report it (cosine similarity and
//! relative error).

use super::{Experiment, ExperimentError};
use crate::error::ConfigError;
use crate::network::Network;
use crate::neurons::NoiseStream;
use crate::rules::{Bptt, Eprop, Feedback, GradientRule, Rtrl, DEFAULT_EPROP_CHUNK_STEPS};
use crate::training::{derive_seed, rule_gradients, TrainError};
use serde::Serialize;
use std::collections::BTreeMap;

/// How close one tensor's gradient is to BPTT's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Agreement {
    /// `g · g_bptt / (‖g‖ ‖g_bptt‖)` (1 when both are zero).
    pub cosine: f64,
    /// `‖g − g_bptt‖ / ‖g_bptt‖` (0 when both are zero).
    pub rel_err: f64,
    /// `‖g‖ / ‖g_bptt‖` (1 when both are zero): whether a rule's step is larger or smaller.
    pub norm_ratio: f64,
}

impl Agreement {
    /// The agreement of `g` with the reference `reference`.
    pub fn of(g: &[f32], reference: &[f32]) -> Self {
        let (mut dot, mut gg, mut rr, mut dd) = (0.0, 0.0, 0.0, 0.0);
        for (&a, &b) in g.iter().zip(reference) {
            let (a, b) = (f64::from(a), f64::from(b));
            dot += a * b;
            gg += a * a;
            rr += b * b;
            dd += (a - b) * (a - b);
        }
        match (gg > 0.0, rr > 0.0) {
            (false, false) => Self {
                cosine: 1.0,
                rel_err: 0.0,
                norm_ratio: 1.0,
            },
            _ => Self {
                cosine: dot / (gg.sqrt() * rr.sqrt()).max(f64::MIN_POSITIVE),
                rel_err: dd.sqrt() / rr.sqrt().max(f64::MIN_POSITIVE),
                norm_ratio: gg.sqrt() / rr.sqrt().max(f64::MIN_POSITIVE),
            },
        }
    }
}

/// One rule's comparison: per tensor, or why the rule does not apply.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RuleComparison {
    /// The rule ran: its agreement per learnable tensor.
    Tensors(BTreeMap<String, Agreement>),
    /// The rule does not apply to this network (or ran out of its limits).
    Skipped {
        /// Why.
        skipped: String,
    },
}

/// The rules compared, by the names `rules compare` prints.
/// A rule that can be compared against BPTT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ComparedRule {
    /// Exact forward-mode gradients (slow: its work grows with the cube of the layer size).
    Rtrl,
    /// e-prop with symmetric feedback.
    Eprop,
    /// e-prop with fixed random feedback.
    EpropRandom,
}

impl ComparedRule {
    /// Every rule, in report order.
    pub const ALL: [Self; 3] = [Self::Rtrl, Self::Eprop, Self::EpropRandom];

    /// The rule's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rtrl => "rtrl",
            Self::Eprop => "eprop",
            Self::EpropRandom => "eprop_random",
        }
    }

    fn build(self, net: &Network<f32>, seed: u64) -> Box<dyn GradientRule<f32>> {
        let eprop = |feedback| Eprop::new(feedback, DEFAULT_EPROP_CHUNK_STEPS, net, seed);
        match self {
            Self::Rtrl => Box::new(Rtrl::default()),
            Self::Eprop => Box::new(eprop(Feedback::Symmetric)),
            Self::EpropRandom => Box::new(eprop(Feedback::Random)),
        }
    }
}

impl std::str::FromStr for ComparedRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown rule `{s}` (expected rtrl, eprop or eprop_random)"))
    }
}

impl Experiment {
    /// The gradients of `compared` rules on the first `batches` training batches (no
    /// dropout), summed over the batches, against BPTT's, per learnable tensor.
    pub fn compare_rules(
        &self,
        net: &Network<f32>,
        batches: usize,
        compared: &[ComparedRule],
    ) -> Result<BTreeMap<String, RuleComparison>, ExperimentError> {
        if let Some((k, s)) = net.spec.first_structured() {
            return Err(ConfigError::new(
                format!("network.hidden[{k}].{}", s.field()),
                format!(
                    "rules are compared on networks without {} (they train with bptt)",
                    s.layers()
                ),
            )
            .into());
        }
        let names: Vec<String> = net
            .tensors()
            .iter()
            .filter(|t| t.learnable)
            .map(|t| t.name.clone())
            .collect();
        let size = self.config.training.batch_size.max(1);
        let chunks: Vec<&[usize]> = self.split.train.chunks(size).take(batches.max(1)).collect();
        let summed = |rule: &dyn GradientRule<f32>| -> Result<Vec<Vec<f32>>, TrainError> {
            let mut total: Vec<Vec<f32>> = Vec::new();
            for (b, indices) in chunks.iter().enumerate() {
                let noise = NoiseStream::derive(self.config.seed, &[COMPARE, b as u64]);
                let (_, g) = rule_gradients(
                    &Dyn(rule),
                    net,
                    &self.config.training,
                    &self.data,
                    indices,
                    self.steps,
                    noise,
                )?;
                if total.is_empty() {
                    total = g;
                } else {
                    for (t, g) in total.iter_mut().zip(g) {
                        t.iter_mut().zip(g).for_each(|(a, b)| *a += b);
                    }
                }
            }
            Ok(total)
        };
        let reference = summed(&Bptt)?;
        let mut out = BTreeMap::new();
        let seed = derive_seed(self.config.seed, COMPARE, 1);
        for &compared in compared {
            let rule = compared.build(net, seed);
            let comparison = match summed(rule.as_ref()) {
                Ok(g) => RuleComparison::Tensors(
                    names
                        .iter()
                        .zip(g.iter().zip(&reference))
                        .map(|(n, (g, r))| (n.clone(), Agreement::of(g, r)))
                        .collect(),
                ),
                Err(TrainError::Rule(e)) => RuleComparison::Skipped {
                    skipped: e.to_string(),
                },
                Err(e) => return Err(e.into()),
            };
            out.insert(compared.name().to_string(), comparison);
        }
        Ok(out)
    }
}

/// The seed purpose of comparison batches.
const COMPARE: u64 = 14;

/// A boxed rule as a rule.
struct Dyn<'a>(&'a dyn GradientRule<f32>);

impl GradientRule<f32> for Dyn<'_> {
    fn gradients(
        &self,
        net: &Network<f32>,
        batch: crate::rules::Batch<'_, f32>,
    ) -> Result<crate::rules::BatchGradients<f32>, crate::rules::RuleError> {
        self.0.gradients(net, batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_of_scaled_and_orthogonal_gradients() {
        let same = Agreement::of(&[1.0, 2.0], &[2.0, 4.0]);
        assert!((same.cosine - 1.0).abs() < 1e-12 && (same.rel_err - 0.5).abs() < 1e-12);
        assert!((same.norm_ratio - 0.5).abs() < 1e-12);
        let ortho = Agreement::of(&[1.0, 0.0], &[0.0, 1.0]);
        assert!(ortho.cosine.abs() < 1e-12 && (ortho.rel_err - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(Agreement::of(&[0.0], &[0.0]).rel_err, 0.0);
    }
}
