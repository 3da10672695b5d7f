//! Approvals of a pending promotion: who may review it, and when it is decided.

use crate::error::{Error, Result};

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// The name stored in `pgml.promotion_reviews.decision` and the audit trail.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
}

/// A promotion request as stored.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: i64,
    pub status: String,
    pub requested_by: String,
    pub approvals_required: u32,
    /// Roles that reviewed it so far.
    pub reviewers: Vec<String>,
    /// Approvals so far.
    pub approvals: u32,
}

/// What a review leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// More approvals are needed.
    Pending { approvals: u32, required: u32 },
    /// Enough approvals: promote now.
    Approved,
    /// One rejection closes the request.
    Rejected,
}

/// Checks that `reviewer` may review `request` and says what the review leads to.
pub fn review(request: &Request, reviewer: &str, decision: Decision) -> Result<Outcome> {
    if request.status != "pending" {
        return Err(Error::refused(format!(
            "promotion request {} is {}, not pending",
            request.id, request.status
        )));
    }
    if reviewer == request.requested_by {
        return Err(Error::forbidden(format!(
            "role \"{reviewer}\" requested promotion request {} and cannot review it",
            request.id
        ))
        .with_hint("another member of pgml_approver must review it"));
    }
    if request.reviewers.iter().any(|r| r == reviewer) {
        return Err(Error::refused(format!(
            "role \"{reviewer}\" has already reviewed promotion request {}",
            request.id
        )));
    }
    Ok(match decision {
        Decision::Reject => Outcome::Rejected,
        Decision::Approve if request.approvals + 1 >= request.approvals_required => Outcome::Approved,
        Decision::Approve => {
            Outcome::Pending { approvals: request.approvals + 1, required: request.approvals_required }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(required: u32, reviewers: &[&str]) -> Request {
        Request {
            id: 7,
            status: "pending".into(),
            requested_by: "alice".into(),
            approvals_required: required,
            reviewers: reviewers.iter().map(|r| r.to_string()).collect(),
            approvals: reviewers.len() as u32,
        }
    }

    #[test]
    fn promotion_happens_with_the_last_required_approval() {
        assert_eq!(
            review(&request(2, &[]), "bob", Decision::Approve).unwrap(),
            Outcome::Pending { approvals: 1, required: 2 }
        );
        assert_eq!(review(&request(2, &["bob"]), "carol", Decision::Approve).unwrap(), Outcome::Approved);
        assert_eq!(review(&request(2, &["bob"]), "carol", Decision::Reject).unwrap(), Outcome::Rejected);
    }

    #[test]
    fn requesters_cannot_review_their_own_request() {
        let err = review(&request(1, &[]), "alice", Decision::Approve).unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }));
        assert!(err.to_string().contains("\"alice\" requested promotion request 7"));
    }

    #[test]
    fn one_review_per_role_and_only_while_pending() {
        let err = review(&request(2, &["bob"]), "bob", Decision::Approve).unwrap_err();
        assert!(err.to_string().contains("already reviewed"));
        let mut done = request(1, &[]);
        done.status = "promoted".into();
        let err = review(&done, "bob", Decision::Approve).unwrap_err();
        assert_eq!(err.to_string(), "promotion request 7 is promoted, not pending");
    }
}
