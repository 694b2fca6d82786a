//! pgdiplomat-locks
