-- pgml-rs: the roles of the lifecycle and what each may do. Roles are cluster-wide, so they
-- are created only when missing (another database may have installed the extension first).
--
--   pgml_predictor  predicts; reads the registry (every other pgml role has its privileges)
--   pgml_trainer    trains (reading the relations it may read), loads datasets, measures
--                   drift, schedules retraining
--   pgml_deployer   deploys, rolls back, promotes, archives and deletes models
--   pgml_approver   approves or rejects promotion requests
--   pgml_monitor    reads the prediction log and the outcomes, records outcomes (0.6.0)
--   pgml_importer   imports models trained elsewhere (0.8.0): their bytes are untrusted input
--   pgml_admin      all of the above, sets stages and promotion policies, forces promotions,
--                   sets what is logged of predictions and runs the log's maintenance
--
-- Functions run with the caller's privileges; the registry is written by the functions
-- alone (as the extension's owner, see extension/src/privilege.rs), so these roles only
-- SELECT it, and the database refuses everything else with SQLSTATE 42501.
DO $$
DECLARE
    r TEXT;
BEGIN
    FOREACH r IN ARRAY ARRAY['pgml_predictor', 'pgml_trainer', 'pgml_deployer', 'pgml_approver', 'pgml_monitor', 'pgml_importer', 'pgml_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    FOR r IN SELECT unnest(ARRAY['pgml_trainer', 'pgml_deployer', 'pgml_approver', 'pgml_monitor', 'pgml_importer']) LOOP
        IF NOT pg_has_role(r, 'pgml_predictor', 'MEMBER') THEN
            EXECUTE format('GRANT pgml_predictor TO %I', r);
        END IF;
        IF NOT pg_has_role('pgml_admin', r, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO pgml_admin', r);
        END IF;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA pgml TO pgml_predictor;
GRANT SELECT ON ALL TABLES IN SCHEMA pgml TO pgml_predictor;
-- schedules are pg_cron jobs of the role that creates them; their runs record themselves
GRANT INSERT, UPDATE, DELETE ON pgml.schedules, pgml.scheduled_runs TO pgml_trainer;
GRANT USAGE ON SEQUENCE pgml.schedules_id_seq, pgml.scheduled_runs_id_seq TO pgml_trainer;
-- what predictions and outcomes say is the business's data: only roles granted pgml_monitor
-- (and pgml_admin) read it
REVOKE SELECT ON pgml.prediction_log, pgml.outcomes FROM pgml_predictor;
GRANT SELECT ON pgml.prediction_log, pgml.outcomes TO pgml_monitor;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgml FROM PUBLIC;
DO $$
DECLARE
    f REGPROCEDURE;
    r TEXT;
BEGIN
    FOR f, r IN
        SELECT p.oid::regprocedure, g.role
        FROM pg_proc p
        JOIN (VALUES
            ('predict', 'pgml_predictor'), ('predict_proba', 'pgml_predictor'),
            ('predict_batch', 'pgml_predictor'), ('_pgml_noop_predict', 'pgml_predictor'),
            ('_pgml_serve_predict', 'pgml_predictor'), ('decompose', 'pgml_predictor'),
            ('predict_joint', 'pgml_predictor'), ('train_joint', 'pgml_trainer'),
            ('served_at', 'pgml_predictor'),
            ('train', 'pgml_trainer'), ('load_dataset', 'pgml_trainer'), ('drift', 'pgml_trainer'),
            ('set_drift_thresholds', 'pgml_trainer'), ('schedule_training', 'pgml_trainer'),
            ('unschedule_training', 'pgml_trainer'), ('schedule_drift_check', 'pgml_trainer'),
            ('unschedule_drift_check', 'pgml_trainer'), ('_pgml_run_schedule', 'pgml_trainer'),
            ('deploy', 'pgml_deployer'), ('promote', 'pgml_deployer'),
            ('archive_model', 'pgml_deployer'), ('delete_model', 'pgml_deployer'),
            ('approve', 'pgml_approver'), ('reject', 'pgml_approver'),
            ('add_stage', 'pgml_admin'), ('set_promotion_policy', 'pgml_admin'),
            -- monitoring
            ('monitoring_status', 'pgml_predictor'), ('flush_prediction_log', 'pgml_predictor'),
            ('record_outcome', 'pgml_monitor'), ('set_monitoring', 'pgml_admin'),
            ('live_metrics', 'pgml_predictor'), ('refresh_live_metrics', 'pgml_monitor'),
            ('add_outcome_source', 'pgml_monitor'), ('remove_outcome_source', 'pgml_monitor'),
            ('evaluate_alerts', 'pgml_monitor'), ('_pgml_log_write', 'pgml_monitor'), ('add_alert_rule', 'pgml_admin'),
            ('remove_alert_rule', 'pgml_admin'), ('batch_score', 'pgml_predictor'), ('_pgml_score', 'pgml_predictor'),
            ('log_maintenance', 'pgml_admin'),
            -- rollouts (0.7.0)
            ('start_rollout', 'pgml_deployer'), ('stop_rollout', 'pgml_deployer'),
            ('set_rollout_percent', 'pgml_deployer'), ('evaluate_rollouts', 'pgml_deployer'),
            ('replay', 'pgml_monitor'),
            -- models in and out (0.8.0)
            ('export', 'pgml_predictor'), ('import', 'pgml_importer'), ('explain', 'pgml_predictor'),
            ('global_explain', 'pgml_predictor'), ('feature_importance', 'pgml_predictor'),
            -- explanations of rows and of a relation's sample (0.9.0)
            ('explain_row', 'pgml_predictor'), ('explain_relation', 'pgml_predictor'),
            -- the text workflow: embeddings, chunking and vector arithmetic
            ('embed', 'pgml_predictor'), ('embedding_models', 'pgml_predictor'),
            ('chunk', 'pgml_predictor'), ('add', 'pgml_predictor'), ('subtract', 'pgml_predictor'),
            ('multiply', 'pgml_predictor'), ('divide', 'pgml_predictor'),
            ('norm_l0', 'pgml_predictor'), ('norm_l1', 'pgml_predictor'), ('norm_l2', 'pgml_predictor'),
            ('norm_max', 'pgml_predictor'), ('normalize_l1', 'pgml_predictor'),
            ('normalize_l2', 'pgml_predictor'), ('normalize_max', 'pgml_predictor'),
            ('distance', 'pgml_predictor'), ('distance_l1', 'pgml_predictor'),
            ('distance_l2', 'pgml_predictor'), ('dot_product', 'pgml_predictor'),
            ('cosine_similarity', 'pgml_predictor'), ('sum', 'pgml_predictor'),
            ('min', 'pgml_predictor'), ('max', 'pgml_predictor'), ('min_abs', 'pgml_predictor'),
            ('max_abs', 'pgml_predictor'), ('version', 'pgml_predictor'),
            -- PostgresML's Hugging Face functions, which refuse with 0A000 and a hint
            ('transform', 'pgml_predictor'), ('transform_stream', 'pgml_predictor'),
            ('generate', 'pgml_predictor'), ('tune', 'pgml_trainer')
        ) AS g (fn, role) ON g.fn = p.proname
        WHERE p.pronamespace = 'pgml'::regnamespace
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, r);
    END LOOP;
END $$;
