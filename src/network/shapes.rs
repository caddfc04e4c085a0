//! The map each hidden layer reads, and the sizes of convolutional layers derived from it.
//!
//! A flat layer's output is one channel of `size` units; a convolutional layer's is its
//! `filters × positions` map, which the next convolutional layer convolves channel by channel.

use super::NetworkSpec;
use crate::error::ConfigError;
use crate::layers::conv::{ConvGeometry, MapShape};

impl NetworkSpec {
    /// The first hidden layer's input: the encoder's neurons, or the input channels, flat or
    /// shaped as `input_shape` says; the error says why a shape does not fit.
    pub(super) fn first_input(&self) -> Result<MapShape, ConfigError> {
        let Some(shape) = &self.input_shape else {
            return Ok(MapShape::flat(match &self.encoder {
                Some(e) => self.inputs * e.fan_out,
                None => self.inputs,
            }));
        };
        let field = "network.input_shape";
        if self.encoder.is_some() {
            return Err(ConfigError::new(
                field,
                "is given with an encoder, whose neurons are a flat vector",
            ));
        }
        let map = match shape[..] {
            [length] => MapShape::flat(length),
            [channels, length] => MapShape {
                channels,
                height: 1,
                width: length,
            },
            [channels, height, width] => MapShape {
                channels,
                height,
                width,
            },
            _ => {
                return Err(ConfigError::new(
                    field,
                    format!(
                        "is {shape:?}: give [channels, height, width], [channels, length] or \
                         [length]"
                    ),
                ))
            }
        };
        let units = shape.iter().try_fold(1usize, |p, &v| p.checked_mul(v));
        if shape.contains(&0) || units != Some(self.inputs) {
            return Err(ConfigError::new(
                field,
                format!(
                    "is {shape:?}, which is not {} input units (network.inputs)",
                    self.inputs
                ),
            ));
        }
        Ok(map)
    }

    /// Each hidden layer's input map and, for a convolutional layer, its convolutions; the
    /// error names the layer whose convolution does not fit its input.
    pub fn layer_inputs(&self) -> Result<Vec<(MapShape, Option<ConvGeometry>)>, ConfigError> {
        let mut input = self.first_input()?;
        let mut all = Vec::with_capacity(self.hidden.len());
        for (k, layer) in self.hidden.iter().enumerate() {
            let geometry = match &layer.conv {
                Some(conv) => Some(
                    conv.geometry(input, layer.recurrent)
                        .map_err(|e| ConfigError::new(format!("network.hidden[{k}].conv"), e))?,
                ),
                None => None,
            };
            all.push((input, geometry));
            input = geometry.map_or(MapShape::flat(layer.size), |g| g.output());
        }
        Ok(all)
    }

    /// Sets every convolutional layer's `size` to its map's `filters × positions` (a config
    /// leaves it out); needs `inputs`. The resolved config then shows the sizes.
    pub fn resolve_conv_sizes(&mut self) -> Result<(), ConfigError> {
        let inputs = self.layer_inputs()?;
        for (layer, (_, geometry)) in self.hidden.iter_mut().zip(inputs) {
            if let Some(g) = geometry {
                layer.size = g.output().units();
            }
        }
        Ok(())
    }

    /// [`Self::layer_inputs`], checking that every convolutional layer's `size` is its map's
    /// (after [`Self::resolve_conv_sizes`]).
    pub(super) fn checked_layer_inputs(
        &self,
    ) -> Result<Vec<(MapShape, Option<ConvGeometry>)>, ConfigError> {
        let inputs = self.layer_inputs()?;
        for (k, (layer, (input, geometry))) in self.hidden.iter().zip(&inputs).enumerate() {
            let delays = layer.input_delay_steps.len();
            if delays != 0 && delays != input.units() {
                return Err(ConfigError::new(
                    format!("network.hidden[{k}].input_delay_steps"),
                    format!(
                        "has {delays} entries but the layer has {} input units (one delay each)",
                        input.units()
                    ),
                ));
            }
            if let Some(g) = geometry {
                let units = g.output().units();
                if layer.size != units {
                    return Err(ConfigError::new(
                        format!("network.hidden[{k}].size"),
                        format!(
                            "is {} but the convolution's map has {} filters × {:?} positions \
                             = {units} neurons (NetworkSpec::resolve_conv_sizes sets it)",
                            layer.size,
                            g.input.filters,
                            g.input.out_size()
                        ),
                    ));
                }
            }
        }
        Ok(inputs)
    }
}
