//! Desk API errors as JSON, in the daemon's shape: `{"success": false, "message": "..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::DeskError;

#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> HttpError {
        HttpError { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<DeskError> for HttpError {
    fn from(error: DeskError) -> HttpError {
        let status = match &error {
            DeskError::BadInput(_) => StatusCode::BAD_REQUEST,
            DeskError::NotFound(_) => StatusCode::NOT_FOUND,
            DeskError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            DeskError::Config(_) | DeskError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("desk: {error}");
        }
        HttpError::new(status, error.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({"success": false, "message": self.message}))).into_response()
    }
}

/// A JSON body, or an error naming what was wrong with it.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(HttpError::new(rejection.status(), rejection.body_text())),
        }
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
    type Rejection = HttpError;

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
                Err(rejection) => Err(HttpError::new(rejection.status(), rejection.body_text())),
            }
        } else {
            JsonBody::<T>::from_request(request, state).await.map(|JsonBody(value)| FormOrJson(value))
        }
    }
}
