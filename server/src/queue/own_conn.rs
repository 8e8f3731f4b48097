//! A Redis connection owned by one task: the group-commit task's way to Redis.
//!
//! The shared connection ([`crate::redis_conn::RedisConn`]) multiplexes many callers through a driver
//! task of its own, so every call crossed two extra task wakeups (caller -> driver, driver ->
//! caller), often between the two cores. The enqueue task makes one call at a time and nothing
//! else shares its socket, so it can write the command and read the reply itself: the reply
//! wakes it directly. Measured in docs/BENCHMARKS.md ("The enqueue task's own connection").
//!
//! Only plain TCP with RESP2 gets an own socket; a Unix socket, RESP3 or a cluster keeps the
//! shared connection, which behaves the same, one hop slower.
//!
//! Failure handling matches the shared connection's: an I/O error, a protocol error or a reply
//! slower than [`RESPONSE_TIMEOUT`] drops the socket and fails the call (the requests waiting on
//! it get 503 and nothing is acknowledged that Redis did not confirm); the next call reconnects.
//! A call that timed out may still have run in Redis: its beacons were answered 503, and their
//! resend is stored once because the worker deduplicates by event id.

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, Pipeline, RedisError, RedisFuture};
use redis::{IntoConnectionInfo, ProtocolVersion, RedisResult, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longer than any script call we make (~1 ms) by far; short enough that a hung Redis turns
/// into 503s instead of requests that never end.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A plain, unshared TCP connection speaking RESP2: one request, then its replies.
pub struct OwnConn {
    host: String,
    port: u16,
    info: redis::RedisConnectionInfo,
    stream: Option<TcpStream>,
    /// Bytes read and not yet parsed.
    buf: Vec<u8>,
}

impl OwnConn {
    /// `None` unless `url` names one Redis over plain TCP speaking RESP2. Connects on first use.
    pub fn new(url: &str) -> Option<Self> {
        if url.contains(',') {
            return None;
        }
        let info: ConnectionInfo = url.into_connection_info().ok()?;
        let ConnectionAddr::Tcp(host, port) = info.addr else {
            return None;
        };
        if info.redis.protocol != ProtocolVersion::RESP2 {
            return None;
        }
        Some(Self {
            host,
            port,
            info: info.redis,
            stream: None,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends `packed` and reads `replies` replies, on a fresh socket if there is none.
    async fn exchange(&mut self, packed: &[u8], replies: usize) -> RedisResult<Vec<Value>> {
        let call = async {
            if self.stream.is_none() {
                self.connect().await?;
            }
            self.send(packed, replies).await
        };
        let result = match tokio::time::timeout(RESPONSE_TIMEOUT, call).await {
            Ok(r) => r,
            Err(_) => Err(io_error("no reply from redis in time".into())),
        };
        if result.is_err() {
            // The socket may hold half a reply, or a reply to come: nothing after it can be
            // matched to its request any more.
            self.stream = None;
            self.buf.clear();
        }
        result
    }

    async fn send(&mut self, packed: &[u8], replies: usize) -> RedisResult<Vec<Value>> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(io_error("not connected".into()));
        };
        stream.write_all(packed).await?;
        let mut values = Vec::with_capacity(replies);
        while values.len() < replies {
            match frame_len(&self.buf)? {
                Some(n) => {
                    values.push(redis::parse_redis_value(&self.buf[..n])?);
                    self.buf.drain(..n);
                }
                None => {
                    if stream.read_buf(&mut self.buf).await? == 0 {
                        return Err(io_error("redis closed the connection".into()));
                    }
                }
            }
        }
        Ok(values)
    }

    async fn connect(&mut self) -> RedisResult<()> {
        let addr = (self.host.as_str(), self.port);
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(s) => s?,
            Err(_) => {
                return Err(io_error(format!(
                    "connecting to {}:{}",
                    self.host, self.port
                )))
            }
        };
        // Requests are single writes already; waiting for more would only delay them.
        stream.set_nodelay(true)?;
        self.stream = Some(stream);
        self.buf.clear();
        let mut handshake = Vec::new();
        if let Some(password) = &self.info.password {
            let mut auth = redis::cmd("AUTH");
            if let Some(user) = &self.info.username {
                auth.arg(user);
            }
            handshake.push(auth.arg(password).clone());
        }
        if self.info.db != 0 {
            handshake.push(redis::cmd("SELECT").arg(self.info.db).clone());
        }
        // A failed handshake fails the call; `exchange` then drops the socket.
        for cmd in handshake {
            for reply in self.send(&cmd.get_packed_command(), 1).await? {
                reply.extract_error()?;
            }
        }
        Ok(())
    }
}

impl ConnectionLike for OwnConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut values = self.exchange(&cmd.get_packed_command(), 1).await?;
            values.pop().ok_or_else(|| io_error("no reply".into()))
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let values = self
                .exchange(&cmd.get_packed_pipeline(), offset + count)
                .await?;
            Ok(values.into_iter().skip(offset).take(count).collect())
        })
    }

    fn get_db(&self) -> i64 {
        self.info.db
    }
}

fn io_error(detail: String) -> RedisError {
    RedisError::from((ErrorKind::IoError, "redis connection", detail))
}

fn protocol_error(detail: &str) -> RedisError {
    RedisError::from((ErrorKind::ParseError, "redis reply", detail.to_string()))
}

/// The length of the first complete RESP2 value at the start of `buf`, or `None` while bytes
/// are missing. Only framing: [`redis::parse_redis_value`] decodes the frame.
fn frame_len(buf: &[u8]) -> RedisResult<Option<usize>> {
    let mut pos = 0;
    // Values still to skip: an array header adds its elements.
    let mut pending: usize = 1;
    while pending > 0 {
        let Some(eol) = buf
            .get(pos..)
            .and_then(|rest| rest.windows(2).position(|w| w == b"\r\n"))
        else {
            return Ok(None);
        };
        if eol == 0 {
            return Err(protocol_error("empty line"));
        }
        let kind = buf[pos];
        let line = &buf[pos + 1..pos + eol];
        pos += eol + 2;
        pending -= 1;
        match kind {
            b'+' | b'-' | b':' => {}
            b'$' | b'*' => {
                let n: i64 = std::str::from_utf8(line)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| protocol_error("bad length"))?;
                // -1 is nil (no body); any other negative length is not RESP.
                match (kind, usize::try_from(n)) {
                    (_, Err(_)) if n < -1 => return Err(protocol_error("bad length")),
                    (_, Err(_)) => {}
                    (b'*', Ok(elements)) => pending += elements,
                    (_, Ok(body)) => {
                        if buf.len() < pos + body + 2 {
                            return Ok(None);
                        }
                        pos += body + 2;
                    }
                }
            }
            _ => return Err(protocol_error("not RESP2")),
        }
    }
    Ok(Some(pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_found_whole_or_not_at_all() {
        let reply = b"*4\r\n$3\r\nabc\r\n:-1\r\n*2\r\n+OK\r\n$-1\r\n$0\r\n\r\n";
        assert_eq!(frame_len(reply).expect("frame"), Some(reply.len()));
        for cut in 0..reply.len() {
            assert_eq!(
                frame_len(&reply[..cut]).expect("partial"),
                None,
                "cut {cut}"
            );
        }
        let mut two = reply.to_vec();
        two.extend_from_slice(b"-NOSCRIPT No matching script\r\n");
        assert_eq!(frame_len(&two).expect("frame"), Some(reply.len()));
    }

    #[test]
    fn bulk_strings_may_hold_crlf() {
        let reply = b"$4\r\na\r\nb\r\n";
        assert_eq!(frame_len(reply).expect("frame"), Some(reply.len()));
        assert_eq!(frame_len(&reply[..8]).expect("partial"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_wait() {
        assert!(frame_len(b"?what\r\n").is_err());
        assert!(frame_len(b"$x\r\n").is_err());
        assert!(frame_len(b"\r\n").is_err());
        assert!(frame_len(b"*-2\r\n").is_err());
    }

    #[test]
    fn server_errors_keep_their_kind() {
        // Script::invoke_async loads the script when (and only when) it sees NoScriptError.
        let reply = b"-NOSCRIPT No matching script. Please use EVAL.\r\n";
        let len = frame_len(reply).expect("frame").expect("complete");
        let value = redis::parse_redis_value(&reply[..len]).expect("parsed");
        let err = value.extract_error().expect_err("an error reply");
        assert_eq!(err.kind(), ErrorKind::NoScriptError);
    }

    #[test]
    fn only_plain_single_tcp_gets_its_own_socket() {
        assert!(OwnConn::new("redis://127.0.0.1:6379/2").is_some());
        assert!(OwnConn::new("redis://127.0.0.1:7000,redis://127.0.0.1:7001").is_none());
        assert!(OwnConn::new("redis+unix:///tmp/redis.sock").is_none());
        assert!(OwnConn::new("redis://127.0.0.1:6379/?protocol=resp3").is_none());
    }
}
