--
-- lsm_am_basic: the extension loads through shared_preload_libraries,
-- reports its version and reserves the lsm.* settings.
--
SHOW shared_preload_libraries;

CREATE EXTENSION lsm_am;

SELECT extname, extversion, extrelocatable
FROM pg_extension WHERE extname = 'lsm_am';

-- The library and the core it was built with.
SELECT lsm_am_version();
-- The library's version is the extension's version.
SELECT lsm_am_version() = 'lsm_am ' || extversion || ' (core 0.1.0)' AS matches
FROM pg_extension WHERE extname = 'lsm_am';

-- What the extension's script created, and nothing else.
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lsm_am')
  AND deptype = 'e'
ORDER BY 1;

SELECT provolatile, proisstrict, proparallel, prorettype::regtype
FROM pg_proc WHERE proname = 'lsm_am_version';

-- lsm.* is a reserved prefix: unknown settings are errors, not placeholders.
SET lsm.nonexistent = 1;
SET lsm.nonexistent TO DEFAULT;
SELECT current_setting('lsm.nonexistent', true) IS NULL AS not_defined;
-- Other prefixes still get placeholders.
SET lsm_am_test.custom = 'x';
SHOW lsm_am_test.custom;
RESET lsm_am_test.custom;

-- Loading the library again in a backend is harmless when it is preloaded.
LOAD 'lsm_am';
SELECT lsm_am_version();

-- DROP and CREATE again.
DROP EXTENSION lsm_am;
SELECT count(*) FROM pg_proc WHERE proname = 'lsm_am_version';
SELECT lsm_am_version();
CREATE EXTENSION lsm_am;
SELECT lsm_am_version();
CREATE EXTENSION IF NOT EXISTS lsm_am;
CREATE EXTENSION lsm_am;

-- Not relocatable.
CREATE SCHEMA lsm_am_other;
ALTER EXTENSION lsm_am SET SCHEMA lsm_am_other;
DROP SCHEMA lsm_am_other;

DROP EXTENSION lsm_am;
