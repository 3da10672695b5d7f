-- pgml-rs 0.8.0 -> 0.9.0, written by hand: what a team judges a model by. pgml.models gains
-- the column evaluation (a classifier's confusion matrix and ROC and precision-recall curves,
-- a regression's predicted and actual values, on its test rows; NULL for every model trained
-- so far). Decisions may say why (the setting pgml.audit_reason, recorded in their audit
-- events: no schema object). Nothing of the registry, the log or the outcomes is changed; no
-- function is replaced.
\echo Use "ALTER EXTENSION pgml UPDATE TO '0.9.0'" to load this file. \quit

ALTER TABLE pgml.models ADD COLUMN evaluation JSONB;
