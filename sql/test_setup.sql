--
-- test_setup: helpers the other pg_regress tests share, created once in the
-- test database before them (the Makefile runs this file first, as
-- PostgreSQL's own suite runs its test_setup).
--
-- regress.am: the access method the comparison tests give their "lsm"
-- tables: LSM_TEST_AM from the environment (heap, to produce their
-- expected output), else lsm.  A test reads it into :am with
--   SELECT current_setting('regress.am') AS am \gset
\getenv am LSM_TEST_AM
\if :{?am}
\else
\set am lsm
\endif
ALTER DATABASE :"DBNAME" SET regress.am = :'am';
--
-- same_rows(a, b): whether two tables hold the same rows (as a multiset),
-- compared as text (point and box have no equality operator); a heap table
-- and an lsm table given the same statements must.
CREATE FUNCTION same_rows(a regclass, b regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	na bigint;
	nb bigint;
	da bigint;
	db bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM %s', a) INTO na;
	EXECUTE format('SELECT count(*) FROM %s', b) INTO nb;
	EXECUTE format('SELECT count(*) FROM (SELECT x::text FROM %s x EXCEPT ALL SELECT y::text FROM %s y) d', a, b) INTO da;
	EXECUTE format('SELECT count(*) FROM (SELECT x::text FROM %s x EXCEPT ALL SELECT y::text FROM %s y) d', b, a) INTO db;
	IF na = nb AND da = 0 AND db = 0 THEN
		RETURN format('same %s rows', na);
	END IF;
	RETURN format('DIFFERENT: %s has %s rows, %s has %s; %s rows only in %s, %s only in %s',
				  a, na, b, nb, da, a, db, b);
END $$;

-- test_flush(rel): flushes rel's memtable if it is an lsm table, so that a
-- test also runs with LSM_TEST_AM=heap (its expected output comes from heap).
CREATE PROCEDURE test_flush(rel regclass)
LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
		WHERE c.oid = rel) = 'lsm' THEN
		PERFORM lsm_flush(rel);
	END IF;
END $$;
