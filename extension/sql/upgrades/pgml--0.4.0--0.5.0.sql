-- pgml-rs 0.4.0 -> 0.5.0, written by hand: pgml-serve predicts in its own process and follows
-- deploys. Every change of pgml.deployments now also notifies the channel pgml_deployments
-- with the project's id ('*' after a TRUNCATE), from the deploying transaction, so a listener
-- hears of a deploy, rollback or promotion when it commits and never of one that rolled back.
-- No table changes: the registry is untouched.
\echo Use "ALTER EXTENSION pgml UPDATE TO '0.5.0'" to load this file. \quit

CREATE FUNCTION pgml._pgml_deployments_notify_trigger() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('pgml_deployments', '*');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('pgml_deployments', OLD.project_id::text);
    ELSE
        PERFORM pg_notify('pgml_deployments', NEW.project_id::text);
        IF TG_OP = 'UPDATE' AND OLD.project_id <> NEW.project_id THEN
            PERFORM pg_notify('pgml_deployments', OLD.project_id::text);
        END IF;
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION pgml._pgml_deployments_notify_trigger() FROM PUBLIC;

CREATE TRIGGER deployments_notify
AFTER INSERT OR UPDATE OR DELETE ON pgml.deployments
FOR EACH ROW EXECUTE FUNCTION pgml._pgml_deployments_notify_trigger();
CREATE TRIGGER deployments_notify_truncate
AFTER TRUNCATE ON pgml.deployments
FOR EACH STATEMENT EXECUTE FUNCTION pgml._pgml_deployments_notify_trigger();
