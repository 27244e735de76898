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
        impl ::mio::event::Source for $ty {
            fn register(
                &mut self,
                registry: &::mio::Registry,
                token: ::mio::Token,
                interests: ::mio::Interest,
            ) -> ::std::io::Result<()> {
                $crate::source::Delegate::inner(self)?.register(registry, token, interests)?;
                $crate::source::Delegate::registered(self, registry, token, interests)
            }

            fn reregister(
                &mut self,
                registry: &::mio::Registry,
                token: ::mio::Token,
                interests: ::mio::Interest,
            ) -> ::std::io::Result<()> {
                $crate::source::Delegate::inner(self)?.reregister(registry, token, interests)?;
                $crate::source::Delegate::registered(self, registry, token, interests)
            }

            fn deregister(&mut self, registry: &::mio::Registry) -> ::std::io::Result<()> {
                $crate::source::Delegate::deregistering(self);
                $crate::source::Delegate::inner(self)?.deregister(registry)
            }
        }
    )+};
}

delegate_source!(
    crate::Stream,
    crate::socket::RawListener,
    crate::Listener,
    crate::Connection,
);
