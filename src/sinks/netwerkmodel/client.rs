//! One HTTPS client for the registers and their token endpoint: two-way TLS
//! (rustls) with the configured system certificate and key, trusting only
//! the configured CA; kept-alive connections; a timeout per attempt;
//! retries with exponential backoff and full jitter for what a retry can
//! mend (no connection, a timeout, a 5xx); one new token when a register
//! refuses the current one.

pub use super::failure::{Register, RegisterError};
use super::telemetry::Telemetry;
use super::token::TokenSource;
use crate::config::Netwerkmodel;
use graphql_client::{GraphQLQuery, QueryBody};
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a query returned: the typed data and the answer's bytes (their
/// SHA-256 tells a replayed answer from a new one).
pub struct Answer<T> {
    pub data: T,
    pub body: Vec<u8>,
}

pub struct RegisterClient {
    http: reqwest::Client,
    tokens: TokenSource,
    indicatieregister: String,
    bemiddelingsregister: String,
    attempts: u32,
    retry_initial: Duration,
    pub telemetry: Arc<Telemetry>,
}

fn read(path: &std::path::Path, what: &str) -> Result<Vec<u8>, RegisterError> {
    std::fs::read(path).map_err(|e| RegisterError::Setup(format!("{what} {}: {e}", path.display())))
}

impl RegisterClient {
    pub fn new(cfg: &Netwerkmodel, telemetry: Arc<Telemetry>) -> Result<Self, RegisterError> {
        let mut pem = read(&cfg.client_cert, "client_cert")?;
        pem.push(b'\n');
        pem.extend(read(&cfg.client_key, "client_key")?);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| RegisterError::Setup(format!("client_cert/client_key: {e}")))?;
        let ca = reqwest::Certificate::from_pem(&read(&cfg.ca, "ca")?)
            .map_err(|e| RegisterError::Setup(format!("ca: {e}")))?;
        let secret = String::from_utf8(read(&cfg.client_secret_file, "client_secret_file")?)
            .map_err(|_| RegisterError::Setup("client_secret_file is not UTF-8".into()))?
            .trim()
            .to_owned();
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .identity(identity)
            .https_only(true)
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("zio-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegisterError::Setup(format!("TLS client: {e}")))?;
        Ok(Self {
            http,
            tokens: TokenSource::new(
                cfg.token_url.clone(),
                cfg.client_id.clone(),
                secret,
                cfg.scope.clone(),
                cfg.audience.clone(),
            ),
            indicatieregister: cfg.indicatieregister.clone(),
            bemiddelingsregister: cfg.bemiddelingsregister.clone(),
            attempts: cfg.attempts,
            retry_initial: Duration::from_millis(cfg.retry_initial_ms),
            telemetry,
        })
    }

    fn url(&self, r: Register) -> &str {
        match r {
            Register::Indicatieregister => &self.indicatieregister,
            Register::Bemiddelingsregister => &self.bemiddelingsregister,
        }
    }

    /// Runs one operation, with the retries described above.
    pub async fn query<Q: GraphQLQuery>(
        &self,
        register: Register,
        variables: Q::Variables,
    ) -> Result<Answer<Q::ResponseData>, RegisterError> {
        let body = Q::build_query(variables);
        let mut attempt = 0;
        let mut renewed = false;
        loop {
            attempt += 1;
            let started = Instant::now();
            let result = self.attempt::<Q>(register, &body).await;
            let outcome = match &result {
                Ok(_) => "ok",
                Err(Attempt::Failed(e)) => e.outcome(),
                Err(Attempt::TokenRefused(_)) => "refused",
            };
            self.telemetry
                .query(register.name(), outcome, started.elapsed());
            match result {
                Ok(a) => return Ok(a),
                Err(Attempt::TokenRefused(token)) if !renewed => {
                    // Revoked or expired before its time: one new token, at once.
                    self.tokens.refused(&token).await;
                    renewed = true;
                    attempt -= 1;
                }
                Err(Attempt::TokenRefused(_)) => {
                    return Err(RegisterError::Refused(format!(
                        "{}: a fresh token was refused too",
                        register.name()
                    )))
                }
                Err(Attempt::Failed(e)) if e.retryable() && attempt < self.attempts => {
                    let cap = self.retry_initial.as_millis() as u64 * (1u64 << attempt.min(16));
                    let wait = rand::rng().random_range(0..=cap.max(1));
                    tracing::warn!(register = register.name(), attempt, error = %e, wait_ms = wait, "register query failed; retrying");
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
    }

    async fn attempt<Q: GraphQLQuery>(
        &self,
        register: Register,
        body: &QueryBody<Q::Variables>,
    ) -> Result<Answer<Q::ResponseData>, Attempt> {
        let token = self
            .tokens
            .token(&self.http, &self.telemetry)
            .await
            .map_err(Attempt::Failed)?;
        let what = register.name();
        let answer = self
            .http
            .post(self.url(register))
            .bearer_auth(&token)
            .json(body)
            .send()
            .await
            .map_err(|e| Attempt::Failed(RegisterError::transport(what, e)))?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| Attempt::Failed(RegisterError::transport(what, e)))?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(Attempt::TokenRefused(token));
        }
        let excerpt = || String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
        if status.is_server_error() {
            return Err(Attempt::Failed(RegisterError::Transport(format!(
                "{what} answered {status}: {}",
                excerpt()
            ))));
        }
        if !status.is_success() {
            return Err(Attempt::Failed(RegisterError::Refused(format!(
                "{what} answered {status}: {}",
                excerpt()
            ))));
        }
        let parsed: graphql_client::Response<Q::ResponseData> = serde_json::from_slice(&bytes)
            .map_err(|e| {
                Attempt::Failed(RegisterError::Answer(format!(
                    "{what}: not a GraphQL answer of the expected shape: {e}"
                )))
            })?;
        if let Some(errors) = parsed.errors.filter(|e| !e.is_empty()) {
            let msgs: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
            return Err(Attempt::Failed(RegisterError::Answer(format!(
                "{what}: {}",
                msgs.join("; ")
            ))));
        }
        let data = parsed.data.ok_or_else(|| {
            Attempt::Failed(RegisterError::Answer(format!(
                "{what}: an answer without data"
            )))
        })?;
        Ok(Answer {
            data,
            body: bytes.to_vec(),
        })
    }
}

enum Attempt {
    Failed(RegisterError),
    /// The register answered 401 to this token.
    TokenRefused(String),
}
