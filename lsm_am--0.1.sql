/* lsm_am--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION lsm_am" to load this file. \quit

CREATE FUNCTION lsm_am_version()
RETURNS text
AS 'MODULE_PATHNAME', 'lsm_am_version'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION lsm_am_version() IS
'version of the lsm_am extension library and of the LSM core compiled into it';

CREATE FUNCTION lsm_encode_key(anyelement)
RETURNS bytea
AS 'MODULE_PATHNAME', 'lsm_encode_key'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION lsm_encode_key(anyelement) IS
'the key bytes an lsm table stores for this value as its first column (under the collation of the call); their byte order is the value order';

CREATE FUNCTION lsm_tableam_handler(internal)
RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'lsm_tableam_handler'
LANGUAGE C STRICT;

CREATE ACCESS METHOD lsm TYPE TABLE HANDLER lsm_tableam_handler;

COMMENT ON ACCESS METHOD lsm IS
'LSM-tree table access method: rows kept in the order of their first column in a log-structured merge tree';

CREATE FUNCTION lsm_flush(rel regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'lsm_flush'
LANGUAGE C STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION lsm_flush(regclass) IS
'freezes the lsm table''s memtable and writes it, with any memtable waiting for a flush, to level-0 runs';

CREATE FUNCTION lsm_levels(rel regclass,
						   OUT level int, OUT runs int, OUT entries bigint, OUT bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'lsm_levels'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION lsm_levels(regclass) IS
'runs of an lsm table per non-empty level: number, entries (row versions, row-map and delta entries) and bytes';

CREATE FUNCTION lsm_memtables(rel regclass,
							  OUT state text, OUT entries bigint, OUT bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'lsm_memtables'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION lsm_memtables(regclass) IS
'memtables of an lsm table in shared memory (the active one and frozen ones waiting for a flush): entries and bytes in use';

CREATE FUNCTION lsm_compact(rel regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'lsm_compact'
LANGUAGE C STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION lsm_compact(regclass) IS
'compacts every run of the lsm table into a single level (memtables stay: lsm_flush writes them to runs first)';
