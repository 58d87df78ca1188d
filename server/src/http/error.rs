//! Errors on the wire in AWS's shape: `{"__type": "<Name>", "message": "..."}` in the body and
//! the same name in the `x-amzn-ErrorType` header (`spec/api.md` 1.5). The status code depends
//! on the service: the control plane answers every error with 400, the runtime and events APIs
//! use 404 for ResourceNotFound and (events) 409 for ResourceInUse.

use hyper::StatusCode;

/// Which of the three Personalize services a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `POST /` with `X-Amz-Target: AmazonPersonalize.<Op>` (awsJson1_1).
    Control,
    /// `POST /personalize-ranking`, `POST /recommendations` (restJson1).
    Runtime,
    /// `POST /events`, `/items`, `/users` (restJson1).
    Events,
    /// Attune's own routes (`/health`, `/metrics`, the OpenSearch endpoint).
    Attune,
}

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The AWS error name (`InvalidInputException`, ...).
    pub kind: &'static str,
    /// The message; for 5xx a generic text (the cause is logged, not sent).
    pub message: String,
}

impl ApiError {
    /// A 400 InvalidInputException.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "InvalidInputException",
            message: message.into(),
        }
    }

    /// ResourceNotFoundException with the service's status code.
    pub fn not_found(service: Service, message: impl Into<String>) -> ApiError {
        ApiError {
            status: match service {
                Service::Control => StatusCode::BAD_REQUEST,
                _ => StatusCode::NOT_FOUND,
            },
            kind: "ResourceNotFoundException",
            message: message.into(),
        }
    }

    /// A 500 InternalFailure with a generic message.
    pub fn internal() -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "InternalFailure",
            message: "the server failed to process the request; see its log".into(),
        }
    }

    /// Maps an SDK error for a service: the AWS error type is the SDK's
    /// ([`attune::Error::aws_type`]), the status code the service's (`spec/api.md` 1.5).
    pub fn from_sdk(service: Service, err: &attune::Error) -> ApiError {
        let kind = err.aws_type();
        let status = match kind {
            "InternalFailure" => return ApiError::internal(),
            "ResourceNotFoundException" => return ApiError::not_found(service, err.to_string()),
            "ResourceInUseException" if service == Service::Events => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError {
            status,
            kind,
            message: err.to_string(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({ "__type": self.kind, "message": self.message }).to_string()
    }

    /// Whether the error is the server's fault (logged once, generic message).
    pub fn is_server_error(&self) -> bool {
        self.status.is_server_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_follow_the_service() {
        let nf = attune::Error::NotFound {
            kind: "campaign",
            name: "c".into(),
        };
        assert_eq!(ApiError::from_sdk(Service::Control, &nf).status, 400);
        assert_eq!(ApiError::from_sdk(Service::Runtime, &nf).status, 404);
        let riu = attune::Error::ResourceInUse("busy".into());
        assert_eq!(ApiError::from_sdk(Service::Events, &riu).status, 409);
        assert_eq!(ApiError::from_sdk(Service::Control, &riu).status, 400);
        let body: serde_json::Value =
            serde_json::from_str(&ApiError::invalid("bad").body()).unwrap();
        assert_eq!(body["__type"], "InvalidInputException");
        assert_eq!(body["message"], "bad");
    }
}
