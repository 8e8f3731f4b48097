//! argon2id password hashes, the password policy, and [`PasswordWork`]: the bound on how many
//! hashes run at once.
//!
//! One argon2id run (the crate's defaults: 19 MiB, 2 passes) takes tens of milliseconds of one
//! core and 19 MiB of memory. Unbounded, a flood of `login` requests would queue hundreds of them
//! on the blocking pool; [`PasswordWork`] lets a few run, a few more wait briefly, and refuses
//! the rest at once (the caller answers RATE_LIMITED).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use tokio::sync::Semaphore;

/// Shortest password accepted for an account, everywhere (GraphQL, CLI).
pub const MIN_LEN: usize = 12;
/// Longest password accepted (in bytes): argon2 hashes any length, so a longer one is a
/// denial-of-service vector, not security.
pub const MAX_LEN: usize = 256;

/// The policy for a new password: [`MIN_LEN`] characters to [`MAX_LEN`] bytes.
pub fn check_new(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LEN || password.len() > MAX_LEN {
        return Err(format!(
            "password must have at least {MIN_LEN} characters (and at most {MAX_LEN} bytes)"
        ));
    }
    Ok(())
}

/// Hashes a new password (checked against [`check_new`] first). Slow: run it off the runtime.
pub fn hash(password: &str) -> Result<String, String> {
    check_new(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string. Slow: run it off the runtime.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Why [`PasswordWork`] did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// Too many hashes running and waiting: try again in a second.
    #[error("the server is busy checking passwords: retry in a second")]
    Busy,
    /// The new password breaks the policy ([`check_new`]).
    #[error("{0}")]
    Policy(String),
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// At most `concurrency` argon2 runs at once on the blocking pool, at most `queue` callers
/// waiting (each at most [`PasswordWork::MAX_WAIT`]); the rest are refused at once.
pub struct PasswordWork {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

impl PasswordWork {
    /// The longest a caller waits for a permit before it is told to retry.
    pub const MAX_WAIT: Duration = Duration::from_secs(2);

    pub fn new(concurrency: usize, queue: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
        }
    }

    /// Verifies `password` against `phc` within the bound.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, WorkError> {
        self.run(move || Ok(verify(&password, &phc))).await
    }

    /// Hashes a new password within the bound (the policy is checked before any waiting).
    pub async fn hash(&self, password: String) -> Result<String, WorkError> {
        check_new(&password).map_err(WorkError::Policy)?;
        self.run(move || hash(&password).map_err(WorkError::Failed))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, WorkError> + Send + 'static,
    ) -> Result<T, WorkError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // The queue is counted, not the semaphore's own waiters, so that a refusal
                // costs nothing (no timer, no entry in the semaphore's list).
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(WorkError::Busy);
                }
                let got =
                    tokio::time::timeout(Self::MAX_WAIT, self.permits.clone().acquire_owned())
                        .await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                match got {
                    Ok(Ok(p)) => p,
                    _ => return Err(WorkError::Busy),
                }
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|e| WorkError::Failed(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let a = hash("correct horse battery").expect("hash");
        let b = hash("correct horse battery").expect("hash");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &a));
        assert!(!verify("wrong horse battery", &a));
    }

    #[test]
    fn new_passwords_have_twelve_characters_at_least() {
        assert!(hash("elevenchars").is_err());
        assert!(check_new("elevenchars").is_err());
        assert!(check_new("twelve chars").is_ok());
        // Characters, not bytes: twelve accented letters pass, eleven do not.
        assert!(check_new(&"é".repeat(12)).is_ok());
        assert!(check_new(&"é".repeat(11)).is_err());
        assert!(check_new(&"x".repeat(MAX_LEN + 1)).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_is_refused_beyond_the_running_and_waiting_bound() {
        let work = Arc::new(PasswordWork::new(1, 1));
        let phc = hash("correct horse battery").expect("hash");
        let mut runs = Vec::new();
        for _ in 0..8 {
            let (work, phc) = (work.clone(), phc.clone());
            runs.push(tokio::spawn(async move {
                work.verify("correct horse battery".into(), phc).await
            }));
        }
        let mut ok = 0;
        let mut busy = 0;
        for r in runs {
            match r.await.expect("join") {
                Ok(true) => ok += 1,
                Err(WorkError::Busy) => busy += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        // One runs and one waits (it runs too unless the first takes over 2 s); the other six
        // are refused at once.
        assert!((1..=2).contains(&ok), "ok={ok}");
        assert!(busy >= 6, "busy={busy}");
        assert_eq!(ok + busy, 8);
    }
}
