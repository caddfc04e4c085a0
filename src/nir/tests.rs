//! Unit tests of the NIR module.
