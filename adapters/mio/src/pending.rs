//! The bound on the handshakes a [`Listener`](crate::Listener) has under way.
//!
//! Each connection the listener hands out holds a [`Slot`] until its handshake ends
//! (or it is dropped). At the limit, `accept` leaves new clients in the kernel's
//! listen queue. mio's readiness is edge-triggered, so a loop that saw `Ok(None)`
//! gets no new event for the clients already queued: when a slot frees, the
//! listener's registration is renewed (`reregister`: `EPOLL_CTL_MOD` on Linux, a new
//! AFD poll on Windows, whose edge-triggering mio emulates by re-arming there), which
//! reports it readable again if clients wait, and the loop's next `accept` takes them.
//! The gate renews the listener's own socket, which it holds weakly
//! ([`SharedListener`](crate::socket::SharedListener)): one way on every system.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use mio::event::Source;
use mio::{Interest, Registry, Token};

use crate::socket::{lock, RawListener, SharedListener};

/// Shared by a listener and the slots of its connections.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    running: usize,
    limit: usize,
    /// `accept` refused a client for want of a slot since the last renewal.
    throttled: bool,
    /// Where the listener is registered, to renew it from a freed slot.
    registration: Option<Registration>,
}

#[derive(Debug)]
struct Registration {
    registry: Registry,
    /// Gone once the listener closed its socket.
    listener: Weak<Mutex<RawListener>>,
    token: Token,
    interests: Interest,
}

/// One handshake under way; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Slot {
    gate: Gate,
}

impl Gate {
    pub(crate) fn new(limit: usize) -> Gate {
        Gate {
            inner: Arc::new(Mutex::new(Inner {
                running: 0,
                limit: limit.max(1),
                throttled: false,
                registration: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it; a poisoned count is still a count.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for one more handshake, or `None` at the limit (and the next freed
    /// place renews the listener's registration).
    pub(crate) fn enter(&self) -> Option<Slot> {
        let mut inner = self.lock();
        if inner.running >= inner.limit {
            inner.throttled = true;
            return None;
        }
        inner.running += 1;
        Some(Slot { gate: self.clone() })
    }

    /// Remembers where the listener's socket is registered.
    pub(crate) fn registered(
        &self,
        registry: &Registry,
        listener: &SharedListener,
        token: Token,
        interests: Interest,
    ) -> std::io::Result<()> {
        self.lock().registration = Some(Registration {
            registry: registry.try_clone()?,
            listener: listener.downgrade(),
            token,
            interests,
        });
        Ok(())
    }

    /// Forgets the registration (deregistered, or the socket closed).
    pub(crate) fn unregistered(&self) {
        self.lock().registration = None;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.gate.lock();
        inner.running -= 1;
        if !inner.throttled {
            return;
        }
        inner.throttled = false;
        let Some(r) = &inner.registration else {
            return;
        };
        // The listener forgets its registration (under this lock) before it closes
        // its socket, so this is the socket it registered. Best effort: a failure
        // leaves the loop to call accept on its own.
        if let Some(listener) = r.listener.upgrade() {
            let _ = lock(&listener).reregister(&r.registry, r.token, r.interests);
        }
    }
}
