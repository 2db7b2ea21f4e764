//! The web console and the application portal: their static files, built
//! into the binary (no CDN, no build step: plain HTML, CSS and ES modules in
//! `assets/`), and the session state of who is signed in (`access`).
//!
//! Every screen reads and writes through `/api/v1`, as the SDKs do; the
//! pages build their DOM with `textContent` only, so names, payloads,
//! headers and response bodies are shown as text, never interpreted.

pub mod access;

/// One embedded file: its bytes and content type.
pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

macro_rules! asset {
    ($file:literal, $ty:literal) => {
        Asset {
            bytes: include_bytes!(concat!("assets/", $file)),
            content_type: $ty,
        }
    };
}

/// The file served at `/console/<name>` or `/portal/<name>` (`""` is the
/// page itself).
pub fn asset(name: &str) -> Option<Asset> {
    Some(match name {
        "" | "index.html" => asset!("index.html", "text/html; charset=utf-8"),
        "console.js" => asset!("console.js", "text/javascript; charset=utf-8"),
        "api.js" => asset!("api.js", "text/javascript; charset=utf-8"),
        "dom.js" => asset!("dom.js", "text/javascript; charset=utf-8"),
        "endpoints.js" => asset!("endpoints.js", "text/javascript; charset=utf-8"),
        "messages.js" => asset!("messages.js", "text/javascript; charset=utf-8"),
        "catalog.js" => asset!("catalog.js", "text/javascript; charset=utf-8"),
        "dashboard.js" => asset!("dashboard.js", "text/javascript; charset=utf-8"),
        "rules.js" => asset!("rules.js", "text/javascript; charset=utf-8"),
        "style.css" => asset!("style.css", "text/css; charset=utf-8"),
        _ => return None,
    })
}

/// The headers every console and portal response carries: a strict
/// Content-Security-Policy (scripts, styles and requests only from this
/// origin; framing only by `frame_ancestors`), no MIME sniffing, no
/// referrer.
pub fn security_headers(frame_ancestors: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "content-security-policy",
            format!("default-src 'self'; img-src 'self' data:; frame-ancestors {frame_ancestors}"),
        ),
        ("x-content-type-options", "nosniff".into()),
        ("referrer-policy", "no-referrer".into()),
        ("cache-control", "no-store".into()),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_page_asset_is_embedded() {
        for name in [
            "",
            "console.js",
            "api.js",
            "dom.js",
            "endpoints.js",
            "messages.js",
            "catalog.js",
            "dashboard.js",
            "rules.js",
            "style.css",
        ] {
            let a = super::asset(name).expect(name);
            assert!(!a.bytes.is_empty(), "{name}");
        }
        assert!(super::asset("../Cargo.toml").is_none());
    }
}
