//! GraphQL errors: one enum, one mapping to `extensions.code`.

use async_graphql::ErrorExtensions;

/// Deliberately not `Display`: async-graphql converts any `Display` type into an error without
/// a code, and every API error must carry one. Conversion goes through `From` below.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated(String),
    Forbidden(String),
    BadInput(String),
    NotFound(String),
    RateLimited(String),
    /// RATE_LIMITED with a retry hint: `extensions.retryAfter`, in seconds.
    RetryAfter {
        message: String,
        secs: u64,
    },
    /// The query ran past `SIGHTLINE_QUERY_TIMEOUT_MS` or the request past its deadline.
    Timeout(String),
    Internal(String),
}

impl ApiError {
    /// The message clients see. Internal details are logged, never sent.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated(m) => format!("authentication required: {m}"),
            ApiError::Forbidden(m) => format!("forbidden: {m}"),
            ApiError::BadInput(m) => m.clone(),
            ApiError::NotFound(m) => format!("{m} not found"),
            ApiError::RateLimited(m) => format!("rate limited: {m}"),
            ApiError::RetryAfter { message, secs } => {
                format!("rate limited: {message}; retry in {secs} s")
            }
            ApiError::Timeout(m) => format!("timed out: {m}"),
            ApiError::Internal(_) => "internal error".to_string(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::BadInput(_) => "BAD_USER_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::RateLimited(_) | ApiError::RetryAfter { .. } => "RATE_LIMITED",
            ApiError::Timeout(_) => "TIMEOUT",
            ApiError::Internal(_) => "INTERNAL",
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        if let ApiError::Internal(detail) = &e {
            tracing::error!(%detail, "internal error in a GraphQL resolver");
            metrics::counter!(crate::telemetry::names::ERRORS, "where" => "graphql").increment(1);
        }
        let code = e.code();
        let retry_after = match &e {
            ApiError::RetryAfter { secs, .. } => Some(*secs),
            _ => None,
        };
        async_graphql::Error::new(e.message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(secs) = retry_after {
                ext.set("retryAfter", secs);
            }
        })
    }
}

/// Inputs the edge refused while converting them into analytics' types (`types.rs`): the
/// caller's mistake, told in the error's own words.
macro_rules! bad_user_input {
    ($($error:ty),+ $(,)?) => {$(
        impl From<$error> for ApiError {
            fn from(e: $error) -> Self {
                ApiError::BadInput(e.to_string())
            }
        }
    )+};
}

bad_user_input!(
    crate::analytics::RangeError,
    crate::analytics::FilterError,
    crate::analytics::counts::SeriesError,
    crate::analytics::behaviour::FunnelError,
    crate::analytics::people::PageError,
    crate::analytics::audience::DimensionError,
    crate::domain::InvalidInput,
    crate::analytics::journeys::JourneyError,
    crate::analytics::heatmap::ScreenError,
);

/// Storage fails only on the database or the archive store (its inputs are validated types).
impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        if e.is_timeout() {
            return ApiError::Timeout(
                "the query took longer than this server allows; narrow the range or the filter"
                    .into(),
            );
        }
        ApiError::Internal(e.to_string())
    }
}

impl From<crate::auth::Denied> for ApiError {
    fn from(d: crate::auth::Denied) -> Self {
        match d {
            crate::auth::Denied::Role => ApiError::Forbidden("your role may not do this".into()),
            crate::auth::Denied::Project => {
                ApiError::Forbidden("this project is not one of yours".into())
            }
            crate::auth::Denied::ReadOnly => ApiError::Forbidden(
                "a shared link may only read: sign in to change anything or follow live feeds"
                    .into(),
            ),
        }
    }
}

pub type ApiResult<T> = Result<T, async_graphql::Error>;
