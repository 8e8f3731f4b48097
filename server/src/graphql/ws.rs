//! Subscriptions over WebSocket (`graphql-transport-ws`, and the older `graphql-ws`), with the
//! guards an open socket needs. async-graphql runs the protocol ([`WebSocket`]); this loop sits
//! between it and the socket and enforces:
//! - **`connection_init` in time**: a socket that has not sent it within
//!   `SIGHTLINE_WS_INIT_TIMEOUT_SECS` is closed with 4408, as the protocol says, so idle
//!   sockets cannot pile up.
//! - **The token's expiry**: a socket authenticated with a token is closed with 4401 when the
//!   token expires (its `exp`); the client reconnects with a fresh one.
//! - **A cap on subscriptions per socket** (`SIGHTLINE_WS_MAX_SUBSCRIPTIONS`): one more is
//!   answered with an `error` message (code RATE_LIMITED) for its id; the others go on.
//! - **Keep-alive**: a WebSocket ping every `SIGHTLINE_WS_KEEPALIVE_SECS`; a peer that answers
//!   nothing (no pong, no message) for two intervals is gone and its socket is closed.
//!
//! The token comes in `connection_init` as `{"Authorization": "Bearer <jwt>"}` (or a shared
//! link's as `{"X-Sightline-Share": "<token>"}`: queries only); an invalid token closes the
//! socket (4403); no token gets UNAUTHENTICATED per subscription.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::Data;
use axum::extract::ws::{CloseFrame, Message, WebSocket as Socket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::context::Caller;
use super::Transport;

/// Close codes of the `graphql-transport-ws` protocol.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
pub const CLOSE_FORBIDDEN: u16 = 4403;

/// Serves one upgraded socket until either side closes it or a guard does.
pub(super) async fn serve(
    socket: Socket,
    t: Arc<Transport>,
    ip: super::context::ClientIp,
    cookie: Option<String>,
) {
    let protocol = socket
        .protocol()
        .and_then(|p| p.to_str().ok())
        .and_then(|p| WebSocketProtocols::from_str(p).ok())
        .unwrap_or(WebSocketProtocols::SubscriptionsTransportWS);
    let limits = &t.settings;
    let (mut sink, mut source) = socket.split();
    let (to_protocol, from_socket) = mpsc::channel::<Vec<u8>>(16);
    // Set by `connection_init` when the token carries an expiry.
    let expires: Arc<Mutex<Option<Instant>>> = Arc::default();
    let init = {
        let (t, expires) = (t.clone(), expires.clone());
        move |payload: Value| async move {
            let header = payload
                .get("Authorization")
                .or_else(|| payload.get("authorization"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            let share = payload
                .get("X-Sightline-Share")
                .or_else(|| payload.get("x-sightline-share"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            // A shared link's token wins (read-only: its subscriptions are refused), then a
            // token in `connection_init`, else the dashboard's session cookie.
            let (caller, bearer) = match (share, header, cookie) {
                (Some(token), _, _) => {
                    (Caller::from_share_link(&t.share_links, &token).await, None)
                }
                (None, None, Some(token)) => (
                    Caller::from_session(&t.jwt, &t.revocation, &token).await,
                    Some(format!("Bearer {token}")),
                ),
                (None, header, _) => (
                    Caller::authenticate(&t.jwt, &t.revocation, header.as_deref()).await,
                    header,
                ),
            };
            if let Caller::Invalid(why) = &caller {
                return Err(async_graphql::Error::new(format!(
                    "authentication required: {why}"
                )));
            }
            if let (Caller::Authenticated(_), Some(h)) = (&caller, bearer.as_deref()) {
                if let Ok(mut e) = expires.lock() {
                    *e = token_expiry(h);
                }
            }
            let mut data = Data::default();
            data.insert(caller);
            data.insert(ip);
            Ok(data)
        }
    };
    let machine = WebSocket::new(t.schema.clone(), tokio_stream_of(from_socket), protocol)
        .on_connection_init(init);
    futures_util::pin_mut!(machine);

    let init_deadline = Instant::now() + limits.ws_init_timeout;
    let mut init_seen = false;
    let mut active: HashSet<String> = HashSet::new();
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(limits.ws_keepalive);
    ping.tick().await;
    let far = Instant::now() + Duration::from_secs(365 * 86_400);
    // Timers made once (not per message): the feed can carry thousands of messages a second.
    let init_timer = sleep_until(init_deadline);
    let expiry_timer = sleep_until(far);
    tokio::pin!(init_timer, expiry_timer);
    let mut expiry_armed = false;

    let close = |code: u16, reason: &str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_string().into(),
        }))
    };
    loop {
        tokio::select! {
            incoming = source.next() => {
                let data = match incoming {
                    Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        last_heard = Instant::now();
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                };
                last_heard = Instant::now();
                let parsed: Option<Value> = serde_json::from_slice(&data).ok();
                let kind = parsed.as_ref().and_then(|v| v.get("type")).and_then(Value::as_str);
                match kind {
                    Some("connection_init") => init_seen = true,
                    Some("subscribe" | "start") => {
                        let id = parsed
                            .as_ref()
                            .and_then(|v| v.get("id"))
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string();
                        if !active.contains(&id) && active.len() >= limits.ws_max_subscriptions {
                            metrics::counter!(crate::telemetry::names::GRAPHQL_QUERIES_REFUSED).increment(1);
                            let refusal = too_many(&id, limits.ws_max_subscriptions, protocol);
                            if sink.send(Message::Text(refusal.into())).await.is_err() {
                                break;
                            }
                            continue;
                        }
                        active.insert(id);
                    }
                    _ => {}
                }
                if to_protocol.send(data).await.is_err() {
                    break;
                }
            }
            outgoing = machine.next() => match outgoing {
                Some(WsMessage::Text(text)) => {
                    // `connection_init` succeeded before its ack goes out: arm the expiry.
                    if !expiry_armed {
                        if let Some(at) = expires.lock().ok().and_then(|e| *e) {
                            expiry_timer.as_mut().reset(at);
                            expiry_armed = true;
                        }
                    }
                    if let Some(id) = completed_id(&text) {
                        active.remove(&id);
                    }
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    // An invalid token at connection_init: forbidden, in the protocol's words.
                    let code = if code == 1002 && reason.starts_with("authentication required") {
                        CLOSE_FORBIDDEN
                    } else {
                        code
                    };
                    let _ = sink.send(close(code, &reason)).await;
                    break;
                }
                None => break,
            },
            _ = &mut init_timer, if !init_seen => {
                let _ = sink.send(close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")).await;
                break;
            }
            _ = &mut expiry_timer, if expiry_armed => {
                let _ = sink.send(close(CLOSE_UNAUTHORIZED, "token expired: reconnect with a new one")).await;
                break;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > limits.ws_keepalive * 2 {
                    let _ = sink.send(close(1001, "no answer to keep-alive pings")).await;
                    break;
                }
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = sink.close().await;
}

/// The messages of the channel as a stream (what the protocol machine reads).
fn tokio_stream_of(
    mut rx: mpsc::Receiver<Vec<u8>>,
) -> impl futures_util::Stream<Item = Vec<u8>> + Send + Unpin {
    Box::pin(async_stream::stream! {
        while let Some(m) = rx.recv().await {
            yield m;
        }
    })
}

/// The id of a `complete` message the server sends (a subscription ended).
fn completed_id(text: &str) -> Option<String> {
    // Only `complete` is parsed: `next` messages can be large and are the bulk of the traffic
    // (async-graphql writes the `type` tag first).
    if !text.starts_with(r#"{"type":"complete""#) {
        return None;
    }
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("type")?.as_str()? != "complete" {
        return None;
    }
    Some(v.get("id")?.as_str()?.to_string())
}

/// The `error` message refusing subscription `id`: the socket runs `max` already.
fn too_many(id: &str, max: usize, protocol: WebSocketProtocols) -> String {
    let error = json!({
        "message": format!("rate limited: this connection already runs {max} subscriptions"),
        "extensions": { "code": "RATE_LIMITED" },
    });
    let payload = match protocol {
        WebSocketProtocols::GraphQLWS => json!([error]),
        WebSocketProtocols::SubscriptionsTransportWS => error,
    };
    json!({ "type": "error", "id": id, "payload": payload }).to_string()
}

/// When the (already verified) bearer token in `header` expires, as an instant of this
/// process's clock.
fn token_expiry(header: &str) -> Option<Instant> {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: u64,
    }
    let token = header
        .trim()
        .strip_prefix("Bearer ")
        .or_else(|| header.trim().strip_prefix("bearer "))?
        .trim();
    // The signature was checked by `Caller::from_authorization`; this only reads `exp`.
    let mut v = jsonwebtoken::Validation::default();
    v.insecure_disable_signature_validation();
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let exp = jsonwebtoken::decode::<Exp>(token, &jsonwebtoken::DecodingKey::from_secret(&[]), &v)
        .ok()?
        .claims
        .exp;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Instant::now() + Duration::from_secs(exp.saturating_sub(now)))
}
