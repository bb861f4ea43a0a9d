//! The `kv` WIT interface (see `wit/kv.wit`): each script's own key-value
//! store, its namespace its script name. No grant: a script cannot name
//! another namespace, so it reaches only its own keys. The size cap is
//! `ScriptLimit <script> kvbytes N` (default `ScriptKVBytes`, 1 MiB).

use wasmtime::Result;

use super::bindings::HostError;
use super::bindings::rumble::plugin::kv;
use super::host::HostState;
use crate::store::kv::MAX_KEY;
use crate::store::{Store, StoreError};

fn checked_key(key: &str) -> Result<(), HostError> {
    match key.len() {
        0 => Err(HostError::Invalid("an empty key".into())),
        n if n > MAX_KEY => Err(HostError::Invalid(format!("a key of {n} bytes (at most {MAX_KEY})"))),
        _ => Ok(()),
    }
}

/// The store's refusals (a full namespace) read well on their own; other
/// failures say they came from the store.
fn store_error(e: StoreError) -> HostError {
    match e {
        StoreError::Invalid(m) => HostError::Failed(m),
        other => HostError::Failed(format!("kv: {other}")),
    }
}

impl HostState {
    /// The store, the script's namespace and its cap, once the key is checked.
    fn kv_target(&self, key: &str) -> Result<(Store, String, u64), HostError> {
        checked_key(key)?;
        let store = self.info.env.store.clone().ok_or_else(|| {
            HostError::Failed("kv: no store here (run the script with --config rumble.conf, or under rumble serve)".into())
        })?;
        let spec = &self.info.spec;
        Ok((store, spec.name.clone(), spec.limits.kv_bytes))
    }

    /// Run a store call with the CPU clock paused.
    async fn kv_call<T>(&mut self, call: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, HostError> {
        self.budget.pause();
        let result = call.await;
        self.budget.resume();
        result.map_err(store_error)
    }
}

impl kv::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Result<Option<Vec<u8>>, HostError>> {
        let (store, script, _) = match self.kv_target(&key) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.kv_call(store.kv_get(&script, &key)).await)
    }

    async fn set(&mut self, key: String, value: Vec<u8>, ttl: Option<u64>) -> Result<Result<(), HostError>> {
        let (store, script, cap) = match self.kv_target(&key) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.kv_call(store.kv_set(&script, &key, value, ttl, cap)).await)
    }

    async fn incr(&mut self, key: String, by: i64, ttl: Option<u64>) -> Result<Result<i64, HostError>> {
        let (store, script, cap) = match self.kv_target(&key) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.kv_call(store.kv_incr(&script, &key, by, ttl, cap)).await)
    }

    async fn delete(&mut self, key: String) -> Result<Result<bool, HostError>> {
        let (store, script, _) = match self.kv_target(&key) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.kv_call(store.kv_delete(&script, &key)).await)
    }
}
