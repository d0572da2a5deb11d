//! Elementwise activations of the convolutional networks, and their gradients written in terms of
//! the output `y` (which is what the backward pass keeps): `relu' = [y > 0]`, `tanh' = 1 - y^2`.
//! GPU version: `shaders/activation.wgsl`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Tanh,
}

impl Activation {
    /// The code the WGSL uniform carries.
    pub fn code(self) -> u32 {
        match self {
            Activation::Relu => 0,
            Activation::Tanh => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
    }
}

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
