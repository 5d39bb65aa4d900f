//! How the store's errors are answered: what was not found is a 404, what was asked wrongly a
//! 400, anything else a 500. (The error shape itself is `wamcp_api::http::ApiError`, shared with
//! the desk.)

use wamcp_api::http::ApiError;
use wamcp_store::StoreError;

pub fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound(message) => ApiError::not_found(message),
        StoreError::Ambiguous(message) | StoreError::Invalid(message) => ApiError::bad_request(message),
        other => ApiError::internal(other.to_string()),
    }
}
