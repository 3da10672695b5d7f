-- regress.try(sql): runs a statement and returns 'no error' or its SQLSTATE, message and hint.
-- In a schema of its own rather than pg_temp: an error it cannot catch (a cancel) prints a
-- CONTEXT line naming the function's schema, and pg_temp_N's number is the backend's slot,
-- which depends on what else is connected to the cluster. (Included again after a \c: IF NOT
-- EXISTS, OR REPLACE.)
CREATE SCHEMA IF NOT EXISTS regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
CREATE OR REPLACE FUNCTION regress.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE hint text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN hint <> '' THEN E'\nHINT: ' || hint ELSE '' END;
END $$;
