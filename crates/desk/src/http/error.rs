//! Desk errors as the daemon's API answers errors (`wamcp_api::http::ApiError`, one shape for
//! both), and bodies that may be a web form.

use axum::http::StatusCode;
pub use wamcp_api::http::{ApiError, JsonBody};

use crate::DeskError;

impl From<DeskError> for ApiError {
    fn from(error: DeskError) -> ApiError {
        let status = match &error {
            DeskError::BadInput(_) => StatusCode::BAD_REQUEST,
            DeskError::NotFound(_) => StatusCode::NOT_FOUND,
            DeskError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            DeskError::Config(_) | DeskError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("desk: {error}");
        }
        ApiError::new(status, error.to_string())
    }
}

/// A body that may be JSON or an HTML form (`application/x-www-form-urlencoded`), as web forms
/// post either.
pub struct FormOrJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for FormOrJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("application/x-www-form-urlencoded") {
            match axum::Form::<T>::from_request(request, state).await {
                Ok(axum::Form(value)) => Ok(FormOrJson(value)),
                Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
            }
        } else {
            JsonBody::<T>::from_request(request, state).await.map(|JsonBody(value)| FormOrJson(value))
        }
    }
}
