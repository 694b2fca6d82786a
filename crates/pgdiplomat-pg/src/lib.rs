//! pgdiplomat-pg
