//! Signing in to the dashboard: a pgml-serve token (the API's) is exchanged for a session
//! cookie (HttpOnly, SameSite=Strict, Path=/ui, and Secure when the request came over TLS,
//! as a TLS-terminating proxy says with `X-Forwarded-Proto: https`). The session keeps the
//! token's SHA-256, never the token, and every page asks the token cache for its role again,
//! so a revoked token ends its sessions within the cache's 2 s. Each session has a random CSRF
//! token that every form carries and every POST must return; the sign-in form, which has no
//! session yet, pairs its CSRF token with a cookie of the same value.

use crate::auth::hash;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "pgml_session";
/// The sign-in form's CSRF cookie.
pub const SIGNIN_COOKIE: &str = "pgml_signin";
/// A session ends this long after sign-in.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// At most this many live sessions (the oldest go first).
const MAX_SESSIONS: usize = 10_000;

struct Session {
    token_sha256: String,
    csrf: String,
    started: Instant,
    /// A message for the next page (after an action).
    flash: Option<(bool, String)>,
}

/// The live sessions, by id.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex.
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the OS random source");
    crate::auth::hex(&bytes)
}

/// Equal, in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    /// A new session for a token; its id.
    pub fn start(&self, token: &str) -> String {
        let id = random_id();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.started.elapsed() < LIFETIME);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.started).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        let session =
            Session { token_sha256: hash(token), csrf: random_id(), started: Instant::now(), flash: None };
        map.insert(id.clone(), session);
        id
    }

    /// Whether a session is live (not ended, not expired).
    pub fn is_live(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub fn end(&self, id: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// (token digest, CSRF token) of a live session.
    fn get(&self, id: &str) -> Option<(String, String)> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some(s) if s.started.elapsed() < LIFETIME => Some((s.token_sha256.clone(), s.csrf.clone())),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Leaves a message for the session's next page.
    pub fn flash(&self, id: &str, error: bool, text: String) {
        if let Some(s) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get_mut(id) {
            s.flash = Some((error, text));
        }
    }

    /// The message left for this page, once.
    pub fn take_flash(&self, id: &str) -> Option<(bool, String)> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).get_mut(id).and_then(|s| s.flash.take())
    }
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the request reached us over TLS (through a proxy that says so).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A Set-Cookie header for the dashboard (an empty value with max_age 0 removes it).
pub fn set_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: Duration,
) -> (axum::http::HeaderName, HeaderValue) {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}", max_age.as_secs());
    (SET_COOKIE, HeaderValue::from_str(&cookie).expect("ASCII cookie"))
}

/// A signed-in viewer: the session, its role (asked again of the token cache) and CSRF token.
pub struct SignedIn {
    pub session: String,
    pub role: String,
    pub csrf: String,
}

/// Not signed in (or the token was revoked): to the sign-in page.
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to("/ui/signin").into_response()
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<SignedIn, Response> {
        let id = cookie(&parts.headers, COOKIE_NAME).ok_or_else(|| SignInFirst.into_response())?;
        let (digest, csrf) = state.sessions.get(&id).ok_or_else(|| SignInFirst.into_response())?;
        match state.tokens.role_of_digest(&state.db, &digest).await {
            Ok(Some(role)) => Ok(SignedIn { session: id, role, csrf }),
            Ok(None) => {
                state.sessions.end(&id);
                Err(SignInFirst.into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_keep_the_digest_and_hand_out_a_message_once() {
        let s = Sessions::default();
        let id = s.start("pgml_secret");
        let (digest, csrf) = s.get(&id).unwrap();
        assert_eq!(digest, hash("pgml_secret"));
        assert_eq!((id.len(), csrf.len()), (64, 64));
        assert_ne!(id, csrf);
        s.flash(&id, true, "refused".into());
        assert_eq!(s.take_flash(&id), Some((true, "refused".to_string())));
        assert_eq!(s.take_flash(&id), None);
        s.end(&id);
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn cookies_are_read_and_written_strictly() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; pgml_session=abc; b=2"));
        assert_eq!(cookie(&h, COOKIE_NAME).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        let (_, v) = set_cookie(&h, COOKIE_NAME, "abc", LIFETIME);
        assert_eq!(v, "pgml_session=abc; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=43200");
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(set_cookie(&h, COOKIE_NAME, "abc", LIFETIME).1.to_str().unwrap().ends_with("; Secure"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
