-- The extension's roles, each denied action (SQLSTATE 42501) with real roles and SET ROLE,
-- and approvals: requested by one role, approved by others, never by the requester.
\ir include/try.sql
SET client_min_messages = warning;
-- Test roles are cluster-wide and outlive this database: create them once.
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['pgml_test_alice', 'pgml_test_bob', 'pgml_test_carol', 'pgml_test_dave',
                           'pgml_test_erin', 'pgml_test_frank'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END $$;
GRANT pgml_trainer, pgml_deployer, pgml_approver TO pgml_test_alice; -- trains, deploys, requests
GRANT pgml_approver TO pgml_test_bob, pgml_test_carol;                -- approve
GRANT pgml_predictor TO pgml_test_dave;                                -- predicts only
                                                                       -- erin: no pgml role
GRANT pgml_admin TO pgml_test_frank;                                   -- sets policies, forces
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target');
CREATE TABLE secret AS SELECT * FROM pgml.iris; -- not granted to anyone

-- The roles the extension creates and how they nest.
SELECT r.rolname AS role, r.rolcanlogin AS can_login,
       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid ORDER BY 1) AS member_of
FROM pg_roles r WHERE r.rolname IN ('pgml_predictor', 'pgml_trainer', 'pgml_deployer', 'pgml_approver', 'pgml_monitor', 'pgml_admin')
ORDER BY 1;

\pset format unaligned
\pset tuples_only on
-- No pgml role: nothing.
SET ROLE pgml_test_erin;
SELECT regress.try($$SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[])$$);
SELECT regress.try($$SELECT * FROM pgml.trained_models$$);
RESET ROLE;

-- pgml_predictor: predicts and reads the registry; trains, deploys, approves nothing.
SET ROLE pgml_test_dave;
SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[]) AS prediction;
SELECT count(*) AS models FROM pgml.trained_models;
SELECT regress.try($$SELECT * FROM pgml.train('Iris', algorithm => 'xgboost')$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', 'most_recent')$$);
SELECT regress.try($$SELECT * FROM pgml.promote('Iris', 1)$$);
SELECT regress.try($$SELECT * FROM pgml.approve(1)$$);
SELECT regress.try($$SELECT pgml.archive_model(1)$$);
SELECT regress.try($$INSERT INTO pgml.deployments (project_id, model_id, strategy) VALUES (1, 1, 'specific')$$);
SELECT regress.try($$DELETE FROM pgml.models$$);
RESET ROLE;

-- pgml_trainer (+ deployer, approver): trains from what it may read, deploys; cannot write
-- the registry by hand, set policies, force, or touch the audit trail.
SET ROLE pgml_test_alice;
SELECT regress.try($$SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}', automatic_deploy => false)$$);
SELECT regress.try($$SELECT * FROM pgml.train('Iris', relation_name => 'secret')$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', 2, stage => 'staging')$$);
SELECT regress.try($$UPDATE pgml.models SET metrics = '{"f1": 1.0}'$$);
SELECT regress.try($$INSERT INTO pgml.audit_log (event, role) VALUES ('deploy', 'someone_else')$$);
SELECT regress.try($$UPDATE pgml.audit_log SET role = 'someone_else'$$);
SELECT regress.try($$DELETE FROM pgml.audit_log$$);
SELECT regress.try($$SELECT pgml.set_promotion_policy('Iris', approvals => 0)$$);
SELECT regress.try($$SELECT pgml.add_stage('Iris', 'qa')$$);
SELECT regress.try($$SELECT * FROM pgml.promote('Iris', 2, force => true)$$);
RESET ROLE;
-- not even the owner may rewrite the trail
SELECT regress.try($$DELETE FROM pgml.audit_log$$);
SELECT regress.try($$TRUNCATE pgml.audit_log$$);
\pset format aligned
\pset tuples_only off

-- Approvals: pgml_admin requires two for production.
SET ROLE pgml_test_frank;
SELECT pgml.set_promotion_policy('Iris', approvals => 2)->'approvals' AS approvals;
RESET ROLE;
SET ROLE pgml_test_alice;
SELECT * FROM pgml.promote('Iris', from_stage => 'staging');
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.promote('Iris', 2)$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', 2)$$);
SELECT regress.try($$SELECT * FROM pgml.approve(1)$$);
RESET ROLE;
SET ROLE pgml_test_bob;
\pset format aligned
\pset tuples_only off
SELECT * FROM pgml.approve(1, comment => 'holdout metrics checked');
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.approve(1)$$);
SELECT regress.try($$SELECT * FROM pgml.approve(99)$$);
RESET ROLE;
-- still pending: production serves model 1
SELECT model_id FROM pgml.stages_overview WHERE project = 'Iris' AND stage = 'production';
SET ROLE pgml_test_carol;
\pset format aligned
\pset tuples_only off
SELECT * FROM pgml.approve(1);
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.reject(1)$$);
RESET ROLE;
\pset format aligned
\pset tuples_only off
SELECT model_id, strategy, deployed_by FROM pgml.stages_overview WHERE project = 'Iris' AND stage = 'production';

-- A rejection closes a request.
SET ROLE pgml_test_alice;
SELECT * FROM pgml.promote('Iris', 1);
RESET ROLE;
SET ROLE pgml_test_bob;
SELECT * FROM pgml.reject((SELECT max(id) FROM pgml.promotion_requests), comment => 'linear is worse');
RESET ROLE;

-- pgml_admin may force past the approvals; the override is recorded.
SET ROLE pgml_test_frank;
SELECT * FROM pgml.promote('Iris', 1, force => true);
RESET ROLE;

-- Who did what, and when: requests, reviews, the audit trail.
SELECT id, model_id, from_stage, to_stage, approvals_required, status, requested_by, decided_at IS NOT NULL AS decided
FROM pgml.promotion_requests ORDER BY id;
SELECT request_id, reviewer, decision, comment FROM pgml.promotion_reviews ORDER BY request_id, reviewed_at;
SELECT event, role, model_id, stage, details->>'request_id' AS request, details->>'strategy' AS strategy
FROM pgml.audit_log WHERE project = 'Iris' ORDER BY id;
SELECT model_id, event, deployed_by FROM pgml.served_at('Iris', clock_timestamp());
SELECT model_id, event, deployed_by
FROM pgml.served_at('Iris', (SELECT at FROM pgml.audit_log WHERE event = 'reject'));

-- A caller's search_path cannot smuggle its own functions into the registry writes, which
-- run as the extension's owner (archive_model's UPDATE calls clock_timestamp()).
CREATE SCHEMA alice_tools AUTHORIZATION pgml_test_alice;
SET ROLE pgml_test_alice;
CREATE FUNCTION alice_tools.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql
AS $$ BEGIN RAISE EXCEPTION 'hijacked: running as %', current_user; END $$;
SET search_path = alice_tools, pg_catalog, public;
SELECT regress.try($$SELECT clock_timestamp()$$) AS alice_sees_her_function;
SELECT * FROM pgml.train('Iris', algorithm => 'linear', hyperparams => '{"C": 0.5}', automatic_deploy => false);
SELECT pgml.archive_model((SELECT max(id) FROM pgml.models)) AS archived;
RESET search_path;
RESET ROLE;
SELECT id, status FROM pgml.models ORDER BY id;
