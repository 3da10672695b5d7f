//! The model lifecycle, decided from plain values: which model a strategy picks, whether a
//! newly trained model replaces the deployed one, the gates a model passes to serve a stage,
//! whether its schema can replace the serving one's, and who may approve a promotion. The
//! extension feeds these from the registry.

pub mod compat;
pub mod deploy;
pub mod gates;
pub mod review;
