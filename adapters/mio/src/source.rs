//! The one `mio::event::Source` implementation, shared by every source in the crate.
//!
//! Each of [`Stream`](crate::Stream), the listening socket, [`Listener`](crate::Listener)
//! and [`Connection`](crate::Connection) is a source because it holds one: it says
//! which ([`Delegate::inner`]) and what it must remember about its registration;
//! [`delegate_source!`] writes the three `Source` methods from that.

use std::io;

use mio::event::Source;
use mio::{Interest, Registry, Token};

/// A type that is a [`Source`] by way of the one it holds.
pub(crate) trait Delegate {
    /// The source that is registered in this one's place.
    fn inner(&mut self) -> io::Result<&mut dyn Source>;

    /// Called after each successful `register` or `reregister` of [`Delegate::inner`].
    fn registered(
        &mut self,
        _registry: &Registry,
        _token: Token,
        _interests: Interest,
    ) -> io::Result<()> {
        Ok(())
    }

    /// Called before `deregister`, whether or not it then succeeds.
    fn deregistering(&mut self) {}
}

/// `impl Source` for each listed [`Delegate`] (the orphan rule rules out a blanket impl).
macro_rules! delegate_source {
    ($($ty:ty),+ $(,)?) => {$(
        impl Source for $ty {
            delegate_source!(@registering register);
            delegate_source!(@registering reregister);

            fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
                Delegate::deregistering(self);
                Delegate::inner(self)?.deregister(registry)
            }
        }
    )+};
    // `register` and `reregister` are the same but for the inner method they call.
    (@registering $method:ident) => {
        fn $method(
            &mut self,
            registry: &Registry,
            token: Token,
            interests: Interest,
        ) -> io::Result<()> {
            Delegate::inner(self)?.$method(registry, token, interests)?;
            Delegate::registered(self, registry, token, interests)
        }
    };
}

delegate_source!(
    crate::Stream,
    crate::socket::RawListener,
    crate::Listener,
    crate::Connection,
);

#[cfg(windows)]
delegate_source!(crate::pipe::PipeStream, crate::pipe::PipeAcceptor);
