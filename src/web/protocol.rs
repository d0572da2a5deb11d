//! How a message crosses between the page and a training worker: the serde-derived types of
//! [`crate::demos::messages`] as JSON, beside the typed arrays that carry bulk data (a data set's
//! bytes, a learner's pictures). One encoder and one decoder for every message, both ways:
//!
//! ```text
//! { json: "<the message>", parts: [Uint8Array | Float32Array, ...] }
//! ```
//!
//! Parts copied for the message are transferred (the sender's copy is detached, nothing is copied
//! again); parts over shared memory are only referenced.

use crate::demos::messages::{FromWorker, ToWorker};
use js_sys::{Array, Object, Reflect};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("a message that is not one of this build's: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a message without its {0}")]
    Missing(&'static str),
    #[error("a message could not be posted: {0}")]
    Post(String),
}

/// A message with its parts, ready to post.
pub struct Outgoing<T> {
    pub message: T,
    pub parts: Vec<JsValue>,
    /// Move the parts' buffers to the receiver instead of copying them.
    pub transfer: bool,
}

impl<T: Serialize> Outgoing<T> {
    pub fn plain(message: T) -> Self {
        Self { message, parts: Vec::new(), transfer: false }
    }

    /// The envelope and its transfer list.
    fn encode(&self) -> Result<(JsValue, Array), ProtocolError> {
        let envelope = Object::new();
        let parts: Array = self.parts.iter().collect();
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&envelope, &"json".into(), &serde_json::to_string(&self.message)?.into());
        let _ = Reflect::set(&envelope, &"parts".into(), &parts);
        let transfer = Array::new();
        if self.transfer {
            for part in &self.parts {
                if let Ok(buffer) = Reflect::get(part, &"buffer".into()) {
                    transfer.push(&buffer);
                }
            }
        }
        Ok((envelope.into(), transfer))
    }
}

/// Posts a message to a worker.
pub fn to_worker(worker: &web_sys::Worker, out: &Outgoing<ToWorker>) -> Result<(), ProtocolError> {
    let (message, transfer) = out.encode()?;
    worker.post_message_with_transfer(&message, &transfer).map_err(|e| ProtocolError::Post(super::dom::describe(&e)))
}

/// Posts a message from a worker to its page.
pub fn to_page(scope: &web_sys::DedicatedWorkerGlobalScope, out: &Outgoing<FromWorker>) -> Result<(), ProtocolError> {
    let (message, transfer) = out.encode()?;
    scope.post_message_with_transfer(&message, &transfer).map_err(|e| ProtocolError::Post(super::dom::describe(&e)))
}

/// Reads an envelope: the message and its parts.
pub fn read<T: DeserializeOwned>(data: &JsValue) -> Result<(T, Array), ProtocolError> {
    let json = Reflect::get(data, &"json".into()).ok().and_then(|j| j.as_string()).ok_or(ProtocolError::Missing("JSON"))?;
    let parts = Reflect::get(data, &"parts".into()).ok().and_then(|p| p.dyn_into::<Array>().ok()).unwrap_or_default();
    Ok((serde_json::from_str(&json)?, parts))
}

/// Part `i` as a `T` (a Uint8Array, a Float32Array).
pub fn part<T: JsCast>(parts: &Array, i: u32) -> Result<T, ProtocolError> {
    parts.get(i).dyn_into::<T>().map_err(|_| ProtocolError::Missing("attached data"))
}
