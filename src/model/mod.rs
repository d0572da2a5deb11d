//! The networks: their layer lists and rule settings, configuration, parameters, initialisation,
//! and the trainer interface that the CPU ([`crate::cpu`]) and GPU ([`crate::gpu`]) implementations
//! offer. Built on [`crate::nn`] alone; the experiments are written against these interfaces only.

pub mod bnn;
pub mod hebbian;
pub mod lenet;
