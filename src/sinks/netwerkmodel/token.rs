//! OAuth2 client credentials (RFC 6749 section 4.4), as the Afsprakenstelsel
//! iWlz has a party authenticate: over the same two-way TLS connection, the
//! client id and secret buy a bearer token valid up to an hour.
//!
//! One token is shared by every query until shortly before it expires; a
//! register that refuses it (401) makes the next query fetch a new one. Only
//! one request for a token is in flight at a time: the others wait for it.

use super::failure::RegisterError;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Renew this long before the stated expiry: a token must not run out
/// between being read here and arriving at the register.
const MARGIN: Duration = Duration::from_secs(30);

pub struct TokenSource {
    url: String,
    client_id: String,
    secret: String,
    scope: Option<String>,
    audience: Option<String>,
    current: Mutex<Option<Held>>,
}

#[derive(Clone)]
struct Held {
    token: String,
    renew_at: Instant,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    /// Seconds; absent means the server does not say (treated as 5 minutes).
    expires_in: Option<u64>,
}

impl TokenSource {
    pub fn new(
        url: String,
        client_id: String,
        secret: String,
        scope: Option<String>,
        audience: Option<String>,
    ) -> Self {
        Self {
            url,
            client_id,
            secret,
            scope,
            audience,
            current: Mutex::new(None),
        }
    }

    /// The token to use now: the held one while it is fresh, else a new one.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        metrics: &super::telemetry::Telemetry,
    ) -> Result<String, RegisterError> {
        let mut held = self.current.lock().await;
        if let Some(h) = held.as_ref() {
            if Instant::now() < h.renew_at {
                return Ok(h.token.clone());
            }
        }
        let fresh = self.fetch(http).await;
        metrics.token_requests(fresh.is_ok());
        let fresh = fresh?;
        let token = fresh.token.clone();
        *held = Some(fresh);
        Ok(token)
    }

    /// Forgets `token` (the register refused it), unless another query has
    /// already replaced it.
    pub async fn refused(&self, token: &str) {
        let mut held = self.current.lock().await;
        if held.as_ref().is_some_and(|h| h.token == token) {
            *held = None;
        }
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<Held, RegisterError> {
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if let Some(s) = &self.scope {
            form.push(("scope", s));
        }
        if let Some(a) = &self.audience {
            form.push(("audience", a));
        }
        let asked = Instant::now();
        let answer = http
            .post(&self.url)
            // HTTP Basic with the form-encoded id and secret (RFC 6749 2.3.1).
            .basic_auth(
                form_encode(&self.client_id),
                Some(form_encode(&self.secret)),
            )
            .form(&form)
            .send()
            .await
            .map_err(|e| RegisterError::transport("token endpoint", e))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| RegisterError::transport("token endpoint", e))?;
        if !status.is_success() {
            return Err(RegisterError::Refused(format!(
                "token endpoint answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )));
        }
        let t: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            RegisterError::Answer(format!("token endpoint: not a token answer: {e}"))
        })?;
        if !t.token_type.eq_ignore_ascii_case("bearer") || t.access_token.is_empty() {
            return Err(RegisterError::Answer(format!(
                "token endpoint: token_type `{}` is not a bearer token",
                t.token_type
            )));
        }
        let life = Duration::from_secs(t.expires_in.unwrap_or(300));
        Ok(Held {
            token: t.access_token,
            renew_at: asked + life.saturating_sub(MARGIN).max(life / 2),
        })
    }
}

/// `application/x-www-form-urlencoded` for the Basic credentials, as RFC 6749
/// 2.3.1 asks (a secret may hold `:` or `%`).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::form_encode;

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("zk-5509_a.b"), "zk-5509_a.b");
        assert_eq!(form_encode("a:b%c d/é"), "a%3Ab%25c+d%2F%C3%A9");
    }
}
