//! recog's scaler: workers appear when a burst arrives and go away once it has been served.
//!
//! Layout:
//! - [`policy`]: the scaling policy as a pure function.
//! - [`control`]: the control loop that applies it to a queue and a [`control::Fleet`].
//! - [`ec2`]: the fleet of worker instances on EC2.
//! - [`simulate`]: the policy against a modelled queue and traffic traces, with a comparison
//!   policy, and [`plot`] to draw a run.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod control;
pub mod ec2;
pub mod plot;
pub mod policy;
pub mod simulate;

pub use policy::{Memory, Observation, Policy};
