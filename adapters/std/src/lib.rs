//! Blocking std adapter for mpconn (under construction).
