//! tracing events captured in a test: a [`Collector`] is a small `Subscriber` that
//! keeps every event's level, message and fields as text, for the adapters' tracing
//! tests to check (the peer address present, no key material in any field).

use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{span, Event, Level, Metadata, Subscriber};

/// One event as the collector saw it.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The event's level.
    pub level: Level,
    /// Every field but the message, by name, as displayed.
    pub fields: Vec<(String, String)>,
    /// The message.
    pub message: String,
}

impl Captured {
    /// The field called `name`, if the event has one.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Panics if the event holds `key` in any form a log could show it (the bytes as
    /// text, their hex, their `Debug`), or has a field beyond `allowed`.
    pub fn assert_no_key_material(&self, key: &[u8], allowed: &[&str]) {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let forms = [
            String::from_utf8_lossy(key).into_owned(),
            hex,
            format!("{key:?}"),
        ];
        for (name, value) in self
            .fields
            .iter()
            .chain([&("message".into(), self.message.clone())])
        {
            assert!(
                name == "message" || allowed.contains(&name.as_str()),
                "unexpected field {name} in {self:?}"
            );
            for form in &forms {
                assert!(
                    !value.contains(form.as_str()),
                    "key material in {name}: {value}"
                );
            }
            assert!(
                !value.contains("#CHALLENGE#"),
                "a challenge in {name}: {value}"
            );
        }
    }
}

/// Keeps every event; install it for the current thread with [`install`](Self::install).
#[derive(Debug, Clone, Default)]
pub struct Collector {
    events: Arc<Mutex<Vec<Captured>>>,
}

impl Collector {
    /// Makes this collector the current thread's subscriber until the guard drops
    /// (a current-thread tokio runtime runs its tasks on this thread too).
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.clone())
    }

    /// A new collector, installed as by [`install`](Self::install).
    pub fn installed() -> (Collector, tracing::subscriber::DefaultGuard) {
        let collector = Collector::default();
        let guard = collector.install();
        (collector, guard)
    }

    /// Checks what a listener at `listener` reported of two clients: one served, from
    /// `served`, and one whose handshake failed, from `failed`, with `error` (what
    /// `accept` returned). One event each, the peer's address in it, the reason for
    /// the failure, and nothing of `key`.
    pub fn assert_served_and_failed(
        &self,
        key: &[u8],
        listener: &str,
        served: &str,
        failed: &str,
        error: &dyn std::fmt::Display,
    ) {
        let error = error.to_string();
        let accepted = self.with_message("accepted a connection");
        assert_eq!(accepted.len(), 1, "{:?}", self.events());
        assert_eq!(accepted[0].level, Level::INFO);
        assert_eq!(accepted[0].field("peer"), Some(served));
        assert_eq!(accepted[0].field("listener"), Some(listener));
        let rejected = self.with_message("handshake failed");
        assert_eq!(rejected.len(), 1, "{:?}", self.events());
        assert_eq!(rejected[0].level, Level::WARN);
        assert_eq!(rejected[0].field("peer"), Some(failed));
        assert_eq!(rejected[0].field("reason"), Some(error.as_str()));
        assert!(
            error.contains(failed),
            "the error names the client: {error}"
        );
        for event in self.events() {
            event.assert_no_key_material(key, &LISTENER_FIELDS);
        }
    }

    /// The events so far, oldest first.
    pub fn events(&self) -> Vec<Captured> {
        self.events.lock().unwrap().clone()
    }

    /// The events whose message is `message`.
    pub fn with_message(&self, message: &str) -> Vec<Captured> {
        self.events()
            .into_iter()
            .filter(|e| e.message == message)
            .collect()
    }
}

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let (messages, fields): (Vec<_>, Vec<_>) = fields
            .0
            .into_iter()
            .partition(|(name, _)| name == "message");
        self.events.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            fields,
            message: messages.into_iter().map(|(_, m)| m).collect(),
        });
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// The fields a listener's events may have (mpconn-net's `handshake_outcome`).
pub const LISTENER_FIELDS: [&str; 3] = ["peer", "listener", "reason"];
