//! What the network and the account can do to a connection: drop it, refuse the next login
//! with a `<failure>` (401 logged out, 402 temporary ban, 403 locked, 405 outdated, …), replace
//! the stream with another client's, or unlink the device from the phone.

use anyhow::{Result, bail};
use wacore_binary::builder::NodeBuilder;

use crate::wire::Out;
use crate::world::{Failure, World};

impl World {
    /// Drops the socket without a word, as a network failure would.
    pub fn drop_connection(&mut self) -> Result<()> {
        if !self.close_connection() {
            bail!("the client is not connected");
        }
        Ok(())
    }

    pub(crate) fn close_connection(&mut self) -> bool {
        match self.conn.take() {
            Some(conn) => {
                let _ = conn.tx.send(Out::Close);
                true
            }
            None => false,
        }
    }

    /// The next login is refused with `failure`; a connected client is dropped so that it
    /// logs in again.
    pub fn fail_next_connect(&mut self, failure: Failure) -> Result<()> {
        if failure.reason == 0 {
            bail!("give the failure's code: 401, 402, 403, 405, 409, 500, …");
        }
        self.fail_next = Some(failure);
        self.close_connection();
        Ok(())
    }

    /// Another client took the session: `<stream:error><conflict type="replaced"/>`.
    pub fn stream_replaced(&mut self) -> Result<()> {
        if self.conn.is_none() {
            bail!("the client is not connected");
        }
        self.send(
            NodeBuilder::new("stream:error")
                .children([NodeBuilder::new("conflict").attr("type", "replaced").build()])
                .build(),
        );
        self.close_connection();
        Ok(())
    }

    /// The user removed the device on the phone: the stream ends with 401 `device_removed`,
    /// and the device's credentials no longer log in.
    pub fn unlink(&mut self) -> Result<()> {
        if self.saved.device.take().is_none() {
            bail!("no device is linked");
        }
        self.send(
            NodeBuilder::new("stream:error")
                .attr("code", "401")
                .children([NodeBuilder::new("conflict").attr("type", "device_removed").build()])
                .build(),
        );
        self.close_connection();
        self.saved.offline.clear();
        Ok(())
    }
}
