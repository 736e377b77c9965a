//! `GET /system/info`: who runs the functions, and which gateway this is.

use axum::extract::State;
use axum::Json;
use faas_types::GatewayInfo;

use crate::server::AppState;

/// `{"provider":{...},"version":{...},"arch":...}`.
pub(crate) async fn info(State(state): State<AppState>) -> Json<GatewayInfo> {
    Json(GatewayInfo {
        provider: state.provider.info(),
        version: state.config.version.clone(),
        arch: std::env::consts::ARCH.to_owned(),
        sandbox: state.provider.sandbox(),
    })
}
