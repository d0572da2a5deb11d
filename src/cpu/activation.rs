//! Elementwise activations of the convolutional networks, and their gradients written in terms of
//! the output `y` (which is what the backward pass keeps): `relu' = [y > 0]`, `tanh' = 1 - y^2`.
//! GPU version: `shaders/activation.wgsl`.

use crate::nn::Activation;

pub fn activation_forward(act: Activation, x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = match act {
            Activation::Relu => v.max(0.0),
            Activation::Tanh => v.tanh(),
        };
    }
}

pub fn activation_backward(act: Activation, y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &out), &g) in dx.iter_mut().zip(y).zip(dy) {
        *d = match act {
            Activation::Relu => {
                if out > 0.0 { g } else { 0.0 }
            }
            Activation::Tanh => g * (1.0 - out * out),
        };
    }
}

/// The logistic function, `1 / (1 + e^-z)`: the autoencoder's output and the LSTM's gates.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}
