//! The page: HTML, CSS and JavaScript compiled into the binary (`assets/web/`), served with a
//! content security policy that lets it load nothing from anywhere but this server.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../../assets/web/index.html");
const SCRIPT: &str = include_str!("../../assets/web/app.js");
const STYLE: &str = include_str!("../../assets/web/style.css");
const ICON: &str = include_str!("../../assets/web/favicon.svg");

/// Scripts, styles, images, audio and requests from this origin only (blob: for the decoded
/// audio's downloads).
const POLICY: &str = "default-src 'self'; img-src 'self' blob:; media-src 'self' blob:; \
                      connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The tab's icon: without one, browsers ask for /favicon.ico and log its 404 as an error.
pub async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}
