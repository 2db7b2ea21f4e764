//! The HTTP API in the Svix `/api/v1` dialect, served by shard 0.
//!
//! `http` reads requests and writes responses, `routes` maps paths to
//! handlers, `views` renders records as Svix-shaped JSON. The API changes the
//! catalog only through the catalog journal (append, sync, then swap the
//! snapshot), and accepts messages only through `shard::route::submit`, the
//! same path the Unix-socket ingest uses.

pub mod apps;
pub mod attempts;
pub mod endpoints;
pub mod event_types;
pub mod headers;
pub mod http;
pub mod idempotency;
pub mod listing;
pub mod manual;
pub mod messages;
pub mod params;
pub mod routes;
pub mod views;

use crate::limits::{API_CONNECTIONS_MAX, API_LINGER_BYTES_MAX};
use crate::shard::state::Shard;
use std::rc::Rc;

/// Longest wait for one whole request (including keep-alive idle time).
pub const REQUEST_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Accepts API connections until the engine stops.
pub async fn serve(shard: Rc<Shard>, listener: glommio::net::TcpListener) {
    let open = Rc::new(std::cell::Cell::new(0usize));
    while !shard.shared().is_stopping() {
        let Ok(stream) = listener.accept().await else {
            // Out of descriptors or a transient error: back off rather than
            // spin, and let connections close meanwhile.
            glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        if open.get() >= API_CONNECTIONS_MAX {
            drop(stream);
            continue;
        }
        open.set(open.get() + 1);
        let shard = shard.clone();
        let open = open.clone();
        glommio::spawn_local(async move {
            connection(&shard, stream).await;
            open.set(open.get() - 1);
        })
        .detach();
    }
}

async fn connection(shard: &Rc<Shard>, mut stream: glommio::net::TcpStream) {
    let mut buf = Vec::new();
    let max_body = shard.shared().config.max_body_bytes;
    loop {
        // A connection that sends nothing (or too slowly) for
        // REQUEST_READ_TIMEOUT is closed, so slow clients cannot hold all
        // API_CONNECTIONS_MAX slots.
        let read = http::read_request(&mut stream, &mut buf, max_body);
        let timeout = async {
            glommio::timer::sleep(REQUEST_READ_TIMEOUT).await;
            Err(http::RequestReadError::Closed)
        };
        match futures_lite::future::or(read, timeout).await {
            Ok(req) => {
                let keep_alive = req.keep_alive;
                let resp = routes::handle(shard, req).await;
                if http::write_response(&mut stream, &resp, keep_alive)
                    .await
                    .is_err()
                    || !keep_alive
                {
                    return;
                }
            }
            Err(http::RequestReadError::Closed) => return,
            Err(http::RequestReadError::Reply(resp)) => {
                let _ = http::write_response(&mut stream, &resp, false).await;
                linger(&mut stream).await;
                return;
            }
        }
    }
}

/// After answering a request we refuse to read (too large, malformed), read
/// and discard what the client is still sending for a bounded time, so that
/// closing with unread data does not reset the connection and destroy the
/// error response before the client reads it.
async fn linger(stream: &mut glommio::net::TcpStream) {
    use futures_lite::AsyncReadExt;
    let _ = stream.shutdown(std::net::Shutdown::Write).await;
    let drain = async {
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0;
        while total < API_LINGER_BYTES_MAX {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    futures_lite::future::or(
        drain,
        glommio::timer::sleep(std::time::Duration::from_secs(2)),
    )
    .await;
}
