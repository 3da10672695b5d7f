//! `pgml.replay`: a model that has not served a request is judged on the traffic the stage
//! served since a time — the logged predictions that kept their features and whose outcomes
//! are in. The model scores those features, and the paired test a shadow rollout would run is
//! reported (with the bake time passed: replay has no clock of its own). Reads only: it runs in
//! a read-only transaction and on a standby.

use super::evidence::{self, Kind, Scope};
use crate::cache;
use crate::error::{Result, SqlError};
use crate::store::{self, Project};
use pgml_core::rollout::sequential::evaluate;
use pgml_core::rollout::{Loss, Moments, Resolved, Verdict};

/// What a replay found.
pub struct Replayed {
    pub rows: f64,
    pub served_loss: Option<f64>,
    pub candidate_loss: Option<f64>,
    pub estimate: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// worse (a rollout would roll back), no_worse (it would promote), undecided, or
    /// too_few_rows (fewer labelled rows than the policy's min_rows).
    pub verdict: &'static str,
    pub loss: String,
}

pub fn replay(
    project: &Project,
    model_id: i64,
    since: &str,
    stage: &str,
    policy: &serde_json::Value,
) -> Result<Replayed> {
    store::check_stage(project, stage)?;
    store::model_of(project, model_id)?;
    let policy = Resolved::from_json(policy, project.task)?;
    let loss = policy.loss(project.task)?;
    let candidate = cache::model(model_id)?;
    let scope = Scope {
        project_id: project.id,
        stage,
        since,
        baseline_id: 0,
        candidate_id: model_id,
        kind: Kind::Replay,
    };
    let (mut stream, mut served, mut scored) = (Moments::default(), Moments::default(), Moments::default());
    for row in evidence::rows(&scope)? {
        let Some(x) = row.features.as_deref() else { continue };
        if x.len() != candidate.header.num_features {
            return Err(SqlError::from(pgml_core::Error::refused(format!(
                "model {model_id} takes {} features, the logged predictions of model {} kept {}",
                candidate.header.num_features,
                row.model_id,
                x.len()
            )))
            .hint("replay a model trained on the same features as the one that served"));
        }
        let b = evidence::loss_of(
            loss,
            project.task,
            row.model_id,
            row.label,
            row.prediction,
            row.probabilities.as_deref(),
        )?;
        let (prediction, probabilities) = match loss {
            Loss::LogLoss => {
                let p = candidate.predict_proba(&candidate.one_row(x.to_vec())?)?;
                let best = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
                (best.and_then(|i| candidate.header.classes.get(i).copied()), Some(p))
            }
            _ => (Some(candidate.predict_one(x)?), None),
        };
        let c =
            evidence::loss_of(loss, project.task, model_id, row.label, prediction, probabilities.as_deref())?;
        if let (Some(b), Some(c)) = (b, c) {
            served.push(b);
            scored.push(c);
            stream.push(c - b);
        }
    }
    let p = policy.policy();
    let ev = evaluate(&stream, stream.n, p.bake_seconds, None, &p);
    let verdict = match ev.verdict {
        _ if stream.n < p.min_rows => "too_few_rows",
        Verdict::RollBack => "worse",
        Verdict::Promote => "no_worse",
        _ => "undecided",
    };
    let mean = |m: &Moments| (m.n > 0.0).then(|| m.mean());
    Ok(Replayed {
        rows: stream.n,
        served_loss: mean(&served),
        candidate_loss: mean(&scored),
        estimate: (stream.n > 0.0).then(|| stream.mean()),
        lower: ev.harm.map(|b| b.lower),
        upper: ev.promote.map(|b| b.upper),
        verdict,
        loss: loss.name().into(),
    })
}
