//! The API's JSON bodies: `POST`/`PUT /system/functions` ([`FunctionDeployment`]),
//! `/system/secrets` ([`Secret`]), `/system/scale-function/NAME` ([`ScaleServiceRequest`]),
//! `DELETE /system/functions` ([`DeleteFunctionRequest`]) and `/system/namespace/`
//! ([`NamespaceRequest`]).
//!
//! Every input is tried as each body. One that decodes must validate without panicking, and
//! must survive being passed on: the gateway decodes a body and encodes it again for a
//! provider, so encoding it and decoding that must give a value that encodes the same and
//! validates the same.

use std::fmt::Debug;

use faas_types::{
    DeleteFunctionRequest, FunctionDeployment, NamespaceRequest, ScaleServiceRequest, Secret,
    ValidationError,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A `--max-replicas` for scale requests.
const MAX_REPLICAS: u64 = 20;

/// The target's body.
pub fn run(data: &[u8]) {
    body::<FunctionDeployment>(data, FunctionDeployment::validate);
    body::<Secret>(data, Secret::validate);
    body::<ScaleServiceRequest>(data, |r| r.validate(MAX_REPLICAS));
    body::<DeleteFunctionRequest>(data, DeleteFunctionRequest::validate);
    body::<NamespaceRequest>(data, NamespaceRequest::validate);
}

fn body<T>(data: &[u8], validate: impl Fn(&T) -> Result<(), ValidationError>)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let verdict = validate(&value).map_err(|e| e.to_string());
    let encoded = serde_json::to_vec(&value).expect("a decoded body encodes");
    let again: T = serde_json::from_slice(&encoded).unwrap_or_else(|e| {
        panic!(
            "re-encoded body does not decode: {e}: {}",
            String::from_utf8_lossy(&encoded)
        )
    });
    let encoded_again = serde_json::to_vec(&again).expect("a decoded body encodes");
    assert_eq!(
        String::from_utf8_lossy(&encoded),
        String::from_utf8_lossy(&encoded_again),
        "encoding is not stable"
    );
    assert_eq!(
        verdict.is_ok(),
        validate(&again).is_ok(),
        "validation changed after a round trip: {verdict:?} for {value:?}, then {again:?}"
    );
}
