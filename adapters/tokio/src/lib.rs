//! tokio adapter for mpconn (under construction).
