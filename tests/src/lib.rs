//! Test harness (under construction).
