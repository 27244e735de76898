//! mio adapter for mpconn (under construction).
