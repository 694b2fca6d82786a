//! pgdiplomat-analysis
