//! A network: an optional encoder of analog input, a stack of spiking layers and a leaky
//! readout, described by a [`NetworkSpec`].

use crate::error::{check_count, check_positive, ConfigError};
use crate::layers::{
    EncoderSpec, EncoderTrace, Input, LayerTrace, LifEncoder, Readout, ReadoutGrad, ReadoutKind,
    ReadoutSpec, ReadoutTrace, RecurrentPath, SpikingLayer, SpikingLayerSpec, Structure,
};
use crate::neurons::NoiseStream;
use crate::real::Real;
use crate::scan::{OutputGrad, ScanContext};
use crate::surrogates::SpikeFn;
use crate::tensor::Seq;
use rand::Rng;
use serde::{Deserialize, Serialize};

mod init;
mod shapes;
mod states;
pub use init::WeightInit;
pub use states::{NetworkCarry, NetworkStates};

/// The architecture of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSpec {
    /// Number of input channels (0 in a config: taken from the data).
    pub inputs: usize,
    /// Simulation time step.
    pub dt_ms: f64,
    /// Spike non-linearity of every spiking layer.
    pub spike: SpikeFn,
    /// The input as a map for convolutional layers: `[channels, height, width]`, or
    /// `[channels, length]` for a 1-D map (absent: a flat vector of `inputs` units, one channel
    /// of one row). Image data fills it in for a network with convolutional layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
    /// An encoder of analog input into spikes, in front of the first hidden layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoder: Option<EncoderSpec>,
    /// Hidden spiking layers, input side first.
    pub hidden: Vec<SpikingLayerSpec>,
    /// The readout.
    pub readout: ReadoutSpec,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            inputs: 0,
            dt_ms: 2.0,
            spike: SpikeFn::default(),
            input_shape: None,
            encoder: None,
            hidden: vec![SpikingLayerSpec::default()],
            readout: ReadoutSpec::default(),
        }
    }
}

impl NetworkSpec {
    /// The reference recurrent network of DESIGN.md: one recurrent layer of current-based LIF
    /// neurons and a leaky readout, dt = 1 ms, τ_mem = 10 ms, τ_syn = 5 ms, detached reset.
    pub fn recurrent_lif(inputs: usize, hidden: usize, outputs: usize, spike: SpikeFn) -> Self {
        Self {
            inputs,
            dt_ms: 1.0,
            spike,
            input_shape: None,
            encoder: None,
            hidden: vec![SpikingLayerSpec {
                size: hidden,
                recurrent: true,
                tau_mem_ms: 10.0,
                tau_syn_ms: 5.0,
                ..SpikingLayerSpec::default()
            }],
            readout: ReadoutSpec {
                size: outputs,
                tau_mem_ms: 10.0,
                tau_syn_ms: 5.0,
                ..ReadoutSpec::default()
            },
        }
    }

    /// Checks every field; errors name it (`network.hidden[0].tau_mem_ms`, ...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_count("network.inputs", self.inputs)?;
        self.first_input()?;
        check_positive("network.dt_ms", self.dt_ms)?;
        self.spike
            .validate()
            .map_err(|(field, e)| ConfigError::new(format!("network.spike.{field}"), e))?;
        if let Some(encoder) = &self.encoder {
            encoder.validate("network.encoder")?;
        }
        for (i, layer) in self.hidden.iter().enumerate() {
            layer.validate(&format!("network.hidden[{i}]"))?;
        }
        self.readout.validate("network.readout")?;
        self.check_spiking_output()
    }

    /// The first hidden layer whose weights have a structure ([`Structure`]: Dale's law,
    /// convolutions), with its index, for the parts of the library that refuse them.
    pub fn first_structured(&self) -> Option<(usize, Structure)> {
        self.hidden
            .iter()
            .enumerate()
            .find_map(|(k, l)| l.structure().map(|s| (k, s)))
    }

    /// With spikes as the output, the last hidden layer is the output layer: it must exist and
    /// have one neuron per output.
    fn check_spiking_output(&self) -> Result<(), ConfigError> {
        if self.readout.kind != ReadoutKind::Spikes {
            return Ok(());
        }
        let Some(last) = self.hidden.last() else {
            return Err(ConfigError::new(
                "network.readout.kind",
                "is \"spikes\" (the last hidden layer is the output) but there is no hidden layer",
            ));
        };
        if last.size != self.readout.size {
            return Err(ConfigError::new(
                "network.readout.size",
                format!(
                    "is {} but with kind = \"spikes\" the output is the last hidden layer, of {} \
                     neurons: give that layer one neuron per output",
                    self.readout.size, last.size
                ),
            ));
        }
        Ok(())
    }
}

/// One gradient per learnable tensor, in [`Network::tensors`] order (learnable ones only).
pub type Gradients<F> = Vec<Vec<F>>;

/// A named parameter tensor of a network (e.g. `hidden.0.w_in`).
#[derive(Debug)]
pub struct NamedTensor<'a, F> {
    /// Unique name: `encoder.{param}`, `hidden.{i}.{param}` or `readout.{param}`.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values.
    pub data: &'a [F],
    /// Whether the optimizer updates it.
    pub learnable: bool,
}

/// How products with spike trains are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Products {
    /// Spike operands as row gathers (events): the fast path.
    #[default]
    EventDriven,
    /// Every product as a dense matrix product: the reference the event path is checked
    /// against.
    Dense,
}

/// A feed-forward stack of spiking layers with a leaky readout.
#[derive(Clone, Debug)]
pub struct Network<F: Real> {
    /// The architecture.
    pub spec: NetworkSpec,
    /// How products with hidden spikes are computed (pass dense input for a dense reference).
    pub products: Products,
    /// The encoder of analog input, if any.
    pub encoder: Option<LifEncoder<F>>,
    /// Hidden layers, input side first.
    pub hidden: Vec<SpikingLayer<F>>,
    /// The readout.
    pub readout: Readout<F>,
}

/// Everything the forward pass keeps for the backward pass.
#[derive(Clone, Debug)]
pub struct NetworkTrace<F: Real> {
    /// The encoder, if the network has one.
    pub encoder: Option<EncoderTrace<F>>,
    /// Per hidden layer.
    pub hidden: Vec<LayerTrace<F>>,
    /// The readout.
    pub readout: ReadoutTrace<F>,
}

impl<F: Real> NetworkTrace<F> {
    /// The readout membrane traces `[T, B, outputs]`.
    pub fn output(&self) -> &Seq<F> {
        self.readout.output()
    }
}

/// A change made to hidden layer `k`'s feed-forward current `[T, B, N]` before its neurons
/// run, with the layer's noise stream ([`Network::forward_perturbed`]).
pub type CurrentPerturbation<'a, F> = dyn FnMut(usize, &mut Seq<F>, NoiseStream) + 'a;

impl<F: Real> Network<F> {
    /// A network with zero weights (see [`crate::initializers`]) and time constants drawn as
    /// the spec says.
    pub fn new<R: Rng>(spec: &NetworkSpec, rng: &mut R) -> Result<Self, ConfigError> {
        spec.validate()?;
        let dt_s = spec.dt_ms * 1e-3;
        let encoder = spec
            .encoder
            .as_ref()
            .map(|e| LifEncoder::new(e, spec.inputs, dt_s, spec.spike));
        let mut hidden = Vec::with_capacity(spec.hidden.len());
        for (layer, (input, _)) in spec.hidden.iter().zip(spec.checked_layer_inputs()?) {
            hidden.push(SpikingLayer::new(layer, input, dt_s, spec.spike, rng));
        }
        let last = spec.hidden.last().map(|l| l.size);
        let inputs = last.unwrap_or(encoder.as_ref().map_or(spec.inputs, LifEncoder::width));
        let readout = Readout::new(&spec.readout, inputs, dt_s, rng);
        Ok(Self {
            spec: spec.clone(),
            products: Products::default(),
            encoder,
            hidden,
            readout,
        })
    }

    /// Runs the network; with `dropout_rng`, hidden layers apply dropout (training mode).
    ///
    /// With an encoder, `input` is the analog input of the encoder (spike events are taken as
    /// 0/1 values). Stochastic neurons draw from the default noise stream.
    pub fn forward<R: Rng>(&self, input: Input<F>, dropout_rng: Option<&mut R>) -> NetworkTrace<F> {
        self.forward_in(input, dropout_rng, NoiseStream::default())
    }

    /// [`Self::forward`] with the noise stream `noise`: the encoder draws from
    /// `noise.child(0)`, hidden layer `k` from `noise.child(k + 1)`.
    pub fn forward_in<R: Rng>(
        &self,
        input: Input<F>,
        dropout_rng: Option<&mut R>,
        noise: NoiseStream,
    ) -> NetworkTrace<F> {
        self.forward_perturbed(input, dropout_rng, noise, None)
    }

    /// [`Self::forward_in`] with `perturb(k, current, noise)`, if given, applied to hidden
    /// layer `k`'s feed-forward current `[T, B, N]` before its neurons run (`noise`: the
    /// layer's stream; an emulated device's offsets and current noise). Without it, a layer
    /// fed by spikes sums its current inside the scan and never writes it whole.
    pub fn forward_perturbed<R: Rng>(
        &self,
        input: Input<F>,
        mut dropout_rng: Option<&mut R>,
        noise: NoiseStream,
        mut perturb: Option<&mut CurrentPerturbation<'_, F>>,
    ) -> NetworkTrace<F> {
        let encoder = self.encoder.as_ref().map(|e| {
            let ctx = ScanContext {
                noise: noise.child(0),
                ..ScanContext::default()
            };
            e.forward_in(&input.to_dense(), &ctx)
        });
        let first = self.first_input(input, encoder.as_ref());
        let mut traces: Vec<LayerTrace<F>> = Vec::with_capacity(self.hidden.len());
        for (k, layer) in self.hidden.iter().enumerate() {
            let input = self.layer_input(first, &traces);
            let stream = noise.child(k as u64 + 1);
            let ctx = ScanContext {
                noise: stream,
                ..ScanContext::default()
            };
            let dropout_rng = dropout_rng.as_deref_mut();
            let mut trace = match perturb.as_deref_mut() {
                Some(perturb) => {
                    let mut current = layer.project(input);
                    perturb(k, &mut current, stream);
                    layer.forward_current(current, dropout_rng, &ctx)
                }
                None => layer.forward_in(input, dropout_rng, &ctx),
            };
            if self.products == Products::Dense {
                trace.drop_events();
            }
            traces.push(trace);
        }
        let readout = self.readout.forward(self.layer_input(first, &traces));
        NetworkTrace {
            encoder,
            hidden: traces,
            readout,
        }
    }

    /// Backpropagates `g_readout = ∂L/∂U_readout` and optional per-layer gradients on the
    /// hidden layers' spike counts, `∂L/∂cnt[b, j]` `[B, N]` with `cnt[b, j] = Σ_t S[t, b, j]`
    /// (activity regularizers; see [`LayerTrace::spike_counts`]). Returns one gradient per
    /// learnable tensor, in [`Self::tensors`] order.
    pub fn backward(
        &self,
        input: Input<F>,
        trace: &NetworkTrace<F>,
        g_readout: &Seq<F>,
        g_counts: &[Option<Vec<F>>],
    ) -> Gradients<F> {
        self.backward_through(input, trace, g_readout, g_counts, RecurrentPath::Followed)
    }

    /// [`Self::backward`], following the hidden layers' recurrent weights back in time or not
    /// ([`RecurrentPath`]).
    pub fn backward_through(
        &self,
        input: Input<F>,
        trace: &NetworkTrace<F>,
        g_readout: &Seq<F>,
        g_counts: &[Option<Vec<F>>],
        path: RecurrentPath,
    ) -> Gradients<F> {
        let depth = self.hidden.len();
        let first = self.first_input(input, trace.encoder.as_ref());
        let readout_input = self.layer_input(first, &trace.hidden);
        let (readout_grads, g_readout_input) =
            self.readout
                .backward(readout_input, &trace.readout, g_readout);
        // ∂L/∂(each layer's output): the readout's, then each layer's ∂L/∂input.
        let mut g_from_above: Option<Seq<F>> = None;
        let mut per_layer: Vec<Vec<Vec<F>>> = Vec::with_capacity(depth + 1);
        for k in (0..depth).rev() {
            let x = self.layer_input(first, &trace.hidden[..k]);
            let extra = g_counts.get(k).and_then(Option::as_deref);
            let input_grad = k > 0 || self.encoder.is_some();
            let layer = &self.hidden[k];
            let g = output_grad(g_from_above.as_ref(), &g_readout_input, &self.readout);
            let (grads, g_in) =
                layer.backward_through(x, &trace.hidden[k], g, extra, input_grad, path);
            per_layer.push(grads);
            if let Some(g_in) = g_in {
                g_from_above = Some(g_in);
            }
        }
        if let (Some(encoder), Some(enc_trace)) = (&self.encoder, &trace.encoder) {
            let g = output_grad(g_from_above.as_ref(), &g_readout_input, &self.readout).to_dense();
            per_layer.push(encoder.backward(&input.to_dense(), enc_trace, &g));
        }
        per_layer.reverse();
        per_layer.push(readout_grads);
        per_layer.into_iter().flatten().collect()
    }

    /// What the first hidden layer receives: the encoder's spikes, or the network input.
    fn first_input<'a>(
        &self,
        input: Input<'a, F>,
        encoder: Option<&'a EncoderTrace<F>>,
    ) -> Input<'a, F> {
        match encoder {
            None => input,
            Some(trace) => Input::Dense {
                x: trace.spikes(),
                sparse: self.sparse_spikes(),
            },
        }
    }

    /// Whether products with spike trains of the network's own layers are row gathers.
    pub(crate) fn sparse_spikes(&self) -> bool {
        self.spec.spike.is_binary() && self.products == Products::EventDriven
    }

    /// The input of the layer after `done` (the first layer's input, or the last layer's
    /// output).
    pub(crate) fn layer_input<'a>(
        &self,
        input: Input<'a, F>,
        done: &'a [LayerTrace<F>],
    ) -> Input<'a, F> {
        match done.last() {
            None => input,
            Some(trace) => match (self.products, trace.output_events()) {
                (Products::EventDriven, Some(events)) => Input::Events(events),
                _ => Input::Dense {
                    x: trace.output(),
                    sparse: self.sparse_spikes(),
                },
            },
        }
    }

    /// Every parameter tensor, in a fixed order.
    pub fn tensors(&self) -> Vec<NamedTensor<'_, F>> {
        let mut all = Vec::new();
        if let Some(encoder) = &self.encoder {
            all.extend(encoder.params().into_iter().map(|p| NamedTensor {
                name: format!("encoder.{}", p.name),
                shape: p.shape,
                data: p.data,
                learnable: p.learnable,
            }));
        }
        for (i, layer) in self.hidden.iter().enumerate() {
            all.extend(layer.params().into_iter().map(|p| NamedTensor {
                name: format!("hidden.{i}.{}", p.name),
                shape: p.shape,
                data: p.data,
                learnable: p.learnable,
            }));
        }
        all.extend(self.readout.params().into_iter().map(|p| NamedTensor {
            name: format!("readout.{}", p.name),
            shape: p.shape,
            data: p.data,
            learnable: p.learnable,
        }));
        all
    }

    /// Mutable views of every tensor, in [`Self::tensors`] order.
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<F>> {
        let mut all: Vec<&mut Vec<F>> = Vec::new();
        if let Some(encoder) = &mut self.encoder {
            all.extend(encoder.params_mut());
        }
        for layer in &mut self.hidden {
            all.extend(layer.params_mut());
        }
        all.extend(self.readout.params_mut());
        all
    }

    /// Mutable views of the learnable tensors, in the order [`Self::backward`] returns grads.
    pub fn learnable_mut(&mut self) -> Vec<&mut Vec<F>> {
        let learnable: Vec<bool> = self.tensors().iter().map(|t| t.learnable).collect();
        self.tensors_mut()
            .into_iter()
            .zip(learnable)
            .filter_map(|(t, l)| l.then_some(t))
            .collect()
    }

    /// Restores the constraints that optimizer steps may violate (τ ≥ dt).
    pub fn apply_constraints(&mut self) {
        self.hidden
            .iter_mut()
            .for_each(SpikingLayer::apply_constraints);
        self.readout.apply_constraints();
    }

    /// Clips every synaptic weight (the hidden layers' `w_in`, `w_rec` and the readout's `w`)
    /// into `[−bound, bound]` (SuperSpike's `±w_max`); time constants and encoder parameters
    /// are left alone.
    pub fn bound_weights(&mut self, bound: F) {
        let clip = |m: &mut crate::tensor::Matrix<F>| {
            m.data
                .iter_mut()
                .for_each(|w| *w = w.max(-bound).min(bound))
        };
        for layer in &mut self.hidden {
            clip(&mut layer.w_in);
            layer.w_rec.iter_mut().for_each(clip);
        }
        clip(&mut self.readout.w);
    }

    /// The same network in another precision.
    pub fn cast<G: Real>(&self) -> Network<G> {
        self.rebuilt(&self.spec)
    }

    /// The same network with the spike function `spike` (e.g. the deterministic limit of
    /// stochastic spikes, [`SpikeFn::deterministic`]).
    pub fn with_spike(&self, spike: SpikeFn) -> Network<F> {
        let spec = NetworkSpec {
            spike,
            ..self.spec.clone()
        };
        self.rebuilt(&spec)
    }

    /// A network of `spec` (the same architecture) holding this one's values.
    fn rebuilt<G: Real>(&self, spec: &NetworkSpec) -> Network<G> {
        // Every drawn value is overwritten below, so the seed does not matter.
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let mut other = Network::<G>::new(spec, &mut rng).expect("spec was validated");
        other.products = self.products;
        for (dst, src) in other.tensors_mut().into_iter().zip(self.tensors()) {
            *dst = src.data.iter().map(|v| G::from_f64(v.as_f64())).collect();
        }
        other.copy_masks_from(self);
        other.hidden.iter_mut().for_each(SpikingLayer::rebuild_conv);
        other
    }

    fn copy_masks_from<G: Real>(&mut self, src: &Network<G>) {
        let cast = |m: &Option<Vec<G>>| {
            m.as_ref()
                .map(|m| m.iter().map(|v| F::from_f64(v.as_f64())).collect())
        };
        for (dst, src) in self.hidden.iter_mut().zip(&src.hidden) {
            dst.mask_in = cast(&src.mask_in);
            dst.mask_rec = cast(&src.mask_rec);
        }
        self.readout.mask = cast(&src.readout.mask);
    }
}

/// `∂L/∂(a layer's output)`: the `∂L/∂input` of the layer above it (`from_above`), or, for
/// the top hidden layer, what the readout's backward pass gave.
fn output_grad<'a, F: Real>(
    from_above: Option<&'a Seq<F>>,
    readout_grad: &'a ReadoutGrad<F>,
    readout: &'a Readout<F>,
) -> OutputGrad<'a, F> {
    from_above.map_or_else(|| readout_grad.to_input(readout), OutputGrad::Given)
}

/// The input as a dense sequence (events become 0/1 values).
#[cfg(test)]
mod surrogate_reference;
#[cfg(test)]
mod tests;
