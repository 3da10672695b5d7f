//! Deployment rules, decided from plain values: which model a strategy picks, and whether a
//! newly trained model replaces the deployed one. The extension feeds these from the registry.

pub mod deploy;
