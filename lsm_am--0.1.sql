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

CREATE FUNCTION lsm_stats(rel regclass,
						  OUT memtables int, OUT memtable_entries bigint,
						  OUT memtable_bytes bigint,
						  OUT levels int, OUT runs int, OUT run_entries bigint,
						  OUT run_bytes bigint,
						  OUT flushes bigint, OUT bytes_flushed bigint,
						  OUT last_flush timestamptz,
						  OUT compactions bigint, OUT runs_moved bigint,
						  OUT bytes_compacted_read bigint,
						  OUT bytes_compacted_written bigint,
						  OUT last_compaction timestamptz,
						  OUT user_bytes_written bigint,
						  OUT write_amplification double precision,
						  OUT bloom_probes bigint, OUT bloom_skips bigint,
						  OUT gc_entries_dropped bigint, OUT gc_entries_frozen bigint,
						  OUT stall_slowdowns bigint, OUT stall_stops bigint,
						  OUT stall_time double precision,
						  OUT delayed_write_rate bigint,
						  OUT compacting_pid int, OUT compaction_requested bool,
						  OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'lsm_stats'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION lsm_stats(regclass) IS
'an lsm table''s memtables and runs in total, and its activity since stats_reset: flushes, compactions, write amplification, bloom filter probes and skips, garbage collection, write stalls (time in ms) and the rate slowed writes go at now (bytes/s), the process compacting it now';

CREATE VIEW lsm_tables AS
SELECT c.oid::regclass AS relation, s.*
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_am am ON am.oid = c.relam,
LATERAL @extschema@.lsm_stats(c.oid) s
WHERE am.amname = 'lsm'
  AND c.relkind IN ('r', 'm')
  AND c.relpersistence <> 't'
  AND pg_catalog.has_table_privilege(c.oid, 'SELECT');

COMMENT ON VIEW lsm_tables IS
'lsm_stats() of every lsm table of the database the current user may read';

GRANT SELECT ON lsm_tables TO PUBLIC;

CREATE FUNCTION lsm_verify(rel regclass,
						   OUT problem text, OUT level int, OUT run bigint,
						   OUT block bigint, OUT detail text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'lsm_verify'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION lsm_verify(regclass) IS
'checks an lsm table''s manifest, log chain, every run (checksums, key order, entry counts and key ranges) and that every page has exactly one owner; one row per problem, none when healthy';
