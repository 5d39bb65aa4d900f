//! The WebSocket side: accepts the client's connections, runs the Noise handshake, then moves
//! nodes between the socket and the [`World`](crate::world::World) that answers them.

use std::collections::VecDeque;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_websockets::{Message, ServerBuilder, WebSocketStream};

use crate::noise::{self, FirstReply, Frames, Handshaken};
use crate::wire::{self, Out};
use crate::world::Hub;

/// Accepts connections until the process ends.
pub async fn serve(listener: TcpListener, hub: Arc<Hub>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let hub = hub.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, hub).await {
                tracing::info!("connection ended: {e:#}");
            }
        });
    }
}

async fn connection(stream: TcpStream, hub: Arc<Hub>) -> Result<()> {
    let refuse = hub.refuse_connect();
    let (_request, mut socket) = ServerBuilder::new().accept(stream).await.context("the WebSocket upgrade")?;
    if refuse {
        // The network "drops" this attempt: close before the handshake.
        let _ = socket.close().await;
        return Ok(());
    }
    let mut frames = Frames::default();
    // Frames that came in one message with the one awaited (the client may send its first
    // encrypted frame right behind its handshake finish).
    let mut queued = VecDeque::new();
    let hello = next_frame(&mut socket, &mut frames, &mut queued).await?;
    let mut done = match noise::respond(&hub.server_key(), &hello)? {
        FirstReply::Ik(reply, done) => {
            send_raw(&mut socket, &noise::frame(&reply)?).await?;
            *done
        }
        FirstReply::Xx(reply, xx) => {
            send_raw(&mut socket, &noise::frame(&reply)?).await?;
            let finish = next_frame(&mut socket, &mut frames, &mut queued).await?;
            xx.finish(&finish)?
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = hub.connected(&done, tx);
    let result = exchange(&mut socket, &mut frames, queued.into(), &mut done, &hub, id, &mut rx).await;
    hub.disconnected(id);
    let _ = socket.close().await;
    result
}

async fn exchange(
    socket: &mut WebSocketStream<TcpStream>,
    frames: &mut Frames,
    mut pending: Vec<Vec<u8>>,
    done: &mut Handshaken,
    hub: &Hub,
    id: u64,
    rx: &mut mpsc::UnboundedReceiver<Out>,
) -> Result<()> {
    loop {
        for frame in pending.drain(..) {
            let node = wire::decode(&done.transport.open(&frame)?)?;
            tracing::debug!("<- {}", wire::show(&node));
            hub.received(id, node);
        }
        tokio::select! {
            message = socket.next() => {
                let Some(message) = message else { return Ok(()) };
                let message = message?;
                if message.is_close() {
                    return Ok(());
                }
                if message.is_binary() {
                    pending = frames.feed(message.as_payload())?;
                }
            }
            out = rx.recv() => match out {
                Some(Out::Node(node)) => {
                    tracing::debug!("-> {}", wire::show(&node));
                    let sealed = done.transport.seal(&wire::encode(&node)?)?;
                    send_raw(socket, &sealed).await?;
                }
                Some(Out::Close) | None => return Ok(()),
            },
        }
    }
}

async fn next_frame(
    socket: &mut WebSocketStream<TcpStream>,
    frames: &mut Frames,
    queued: &mut VecDeque<Vec<u8>>,
) -> Result<Vec<u8>> {
    loop {
        if let Some(frame) = queued.pop_front() {
            return Ok(frame);
        }
        let Some(message) = socket.next().await else { bail!("the client left during the handshake") };
        let message = message?;
        if message.is_binary() {
            queued.extend(frames.feed(message.as_payload())?);
        }
    }
}

async fn send_raw(socket: &mut WebSocketStream<TcpStream>, bytes: &[u8]) -> Result<()> {
    socket.send(Message::binary(bytes.to_vec())).await?;
    Ok(())
}
