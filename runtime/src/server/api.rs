//! The HTTP API: routes, the bearer-token extractor, and the handlers.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::LengthLimitError;
use serde_json::{Map, Value, json};
use tracing::instrument;

use super::ServerState;
use super::error::ApiError;
use super::tenant::Tenant;
use crate::store::{Manifest, Needs, PluginMetadata, PluginRef};
use crate::wasm::{CallOutput, HostContext, OutputFormat};

/// The OpenAPI document describing this API.
const OPENAPI: &str = include_str!("openapi.json");

/// The largest plugin an upload may carry.
const MAX_UPLOAD_BYTES: usize = 64 << 20;

/// The largest JSON object of arguments a call may carry.
const MAX_ARGUMENT_BYTES: usize = 1 << 20;

/// Every route of the API. Bodies are read by the handlers, each with its
/// own limit, once the caller is known and admitted.
pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/v1/plugins", get(list).post(upload))
        .route("/v1/plugins/{plugin}", get(inspect).delete(remove))
        .route("/v1/plugins/{plugin}/functions/{function}", post(call))
        .with_state(state)
}

/// A request's body, refused past `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let error = e.into_inner();
        if error.downcast_ref::<LengthLimitError>().is_some() {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                format!("the body is larger than {limit} bytes, the most this route takes"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-argument",
                format!("the body could not be read: {error}"),
            )
        }
    })
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The tenant a request's bearer token names; 401 without one that matches.
pub struct Caller(Arc<Tenant>);

impl FromRequestParts<Arc<ServerState>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ServerState>,
    ) -> Result<Caller, Response> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token);
        let tenant = token.and_then(|token| state.tenants.iter().find(|t| t.owns(token)));
        match tenant {
            Some(tenant) => Ok(Caller(tenant.clone())),
            None => {
                let message = if token.is_some() {
                    "the bearer token is not a tenant's"
                } else {
                    "send a tenant's token: Authorization: Bearer TOKEN"
                };
                let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
                    .into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
                Err(response)
            }
        }
    }
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme in any case).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn list(Caller(tenant): Caller) -> Result<Json<Vec<Manifest>>, ApiError> {
    Ok(Json(tenant.plugins()?))
}

/// What an upload says about the plugin it carries.
#[derive(serde::Deserialize)]
struct UploadQuery {
    name: String,
    version: semver::Version,
    #[serde(default)]
    description: String,
    /// Images it needs, comma-separated.
    #[serde(default)]
    images: String,
}

#[instrument(skip_all, fields(tenant = %tenant.name, plugin = tracing::field::Empty))]
async fn upload(
    State(state): State<Arc<ServerState>>,
    Caller(tenant): Caller,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Manifest>), ApiError> {
    let Query(query) = query?;
    tracing::Span::current().record("plugin", query.name.as_str());
    // A body the whole quota cannot hold is refused before it is read (the
    // room left is checked once the body's digest is known: a component
    // already stored takes none).
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(declared) = declared {
        tenant.check_fits(declared)?;
    }
    let body = read_body(body, MAX_UPLOAD_BYTES).await?;
    let metadata = PluginMetadata {
        name: query.name,
        version: query.version,
        description: query.description,
        needs: Needs {
            images: query
                .images
                .split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(String::from)
                .collect(),
        },
    };
    // Validation compiles the component: keep it off the async workers.
    let manifest =
        tokio::task::spawn_blocking(move || tenant.install(&state.runtime, &body, metadata))
            .await??;
    Ok((StatusCode::CREATED, Json(manifest)))
}

fn reference(text: &str) -> Result<PluginRef, ApiError> {
    Ok(text.parse::<PluginRef>()?)
}

async fn inspect(
    Caller(tenant): Caller,
    plugin: Result<Path<String>, PathRejection>,
) -> Result<Json<Manifest>, ApiError> {
    let Path(plugin) = plugin?;
    Ok(Json(tenant.manifest(&reference(&plugin)?)?))
}

async fn remove(
    Caller(tenant): Caller,
    plugin: Result<Path<String>, PathRejection>,
) -> Result<Json<Manifest>, ApiError> {
    let Path(plugin) = plugin?;
    Ok(Json(tenant.remove(&reference(&plugin)?)?))
}

#[instrument(skip_all, fields(tenant = %tenant.name, plugin = tracing::field::Empty, function = tracing::field::Empty))]
async fn call(
    State(state): State<Arc<ServerState>>,
    Caller(tenant): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Path((plugin, function)) = path?;
    let span = tracing::Span::current();
    span.record("plugin", plugin.as_str());
    span.record("function", function.as_str());
    let _call = tenant.admit_call()?;
    let body = read_body(body, MAX_ARGUMENT_BYTES).await?;
    let args: Map<String, Value> = if body.is_empty() {
        Map::new()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-argument",
                format!("the body must be a JSON object of arguments: {e}"),
            )
        })?
    };
    let reference = reference(&plugin)?;
    let loading = tenant.clone();
    let runtime = state.runtime.clone();
    let plugin =
        tokio::task::spawn_blocking(move || loading.plugin(&runtime, &reference)).await??;
    let host = tenant.host().clone();
    let output = plugin
        .call_json(host.clone(), &function, &args, OutputFormat::Json)
        .await?;
    let deadline = host.policy.limits.timeout;
    let result = tokio::time::timeout(deadline, result_json(&host, output))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "`{function}` returned, but resolving its result did not finish within {}s ([limits] timeout in berth.toml)",
                    deadline.as_secs_f64()
                ),
            )
        })??;
    Ok(Json(json!({ "result": result })))
}

/// A call's result as JSON: a returned service is named by its hostname, a
/// container by its digest (both resolve its images, held to the policy).
async fn result_json(host: &HostContext, output: CallOutput) -> Result<Value, ApiError> {
    Ok(match output {
        CallOutput::Value(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        CallOutput::Nothing => Value::Null,
        CallOutput::Failed(error) => return Err(ApiError::function_failed(&error)),
        CallOutput::Service(service) => {
            let (_, hostname) = host.services.identify(&service).await?;
            json!({ "service": hostname })
        }
        CallOutput::Container(container) => {
            let digest = host.services.evaluator().digest(&container).await?;
            json!({ "container": digest.to_string() })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
