-- pgTAP: the extension's SQL interface, the contract README.md documents:
-- its objects, every function's signature, result and properties, the
-- lsm_tables view, the access method, and every lsm.* setting with its
-- default, unit, range and when it may change.  pg_regress tests what they
-- do; this pins what they are, so that a change to the interface is a
-- deliberate one (update README.md with it).  Run by scripts/test.sh with
-- pg_prove against a throwaway cluster that preloads lsm_am.  Everything is
-- rolled back at the end.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION lsm_am;

SELECT plan(13);

SELECT has_extension('lsm_am', 'lsm_am is installed');
SELECT results_eq(
	$$SELECT extversion COLLATE "default", extrelocatable FROM pg_extension WHERE extname = 'lsm_am'$$,
	$$VALUES ('0.1'::text, false)$$,
	'version 0.1, not relocatable');
SELECT results_eq(
	'SELECT lsm_am_version()',
	$$VALUES ('lsm_am 0.1 (core 0.1.0)'::text)$$,
	'lsm_am_version() reports the extension and core versions');

-- Every function of the extension: name, arguments, result, volatility,
-- strictness, parallel safety, language.
SELECT results_eq(
	$$SELECT p.proname::text COLLATE "default", pg_get_function_arguments(p.oid),
			 pg_get_function_result(p.oid), p.provolatile::text,
			 p.proisstrict, p.proparallel::text, l.lanname::text COLLATE "default"
	  FROM pg_proc p
	  JOIN pg_language l ON l.oid = p.prolang
	  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
		   AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'lsm_am'
	  ORDER BY p.proname$$,
	$$VALUES
	  ('lsm_am_version', '', 'text', 'i', true, 's', 'c'),
	  ('lsm_compact', 'rel regclass', 'void', 'v', true, 'u', 'c'),
	  ('lsm_encode_key', 'anyelement', 'bytea', 'i', false, 's', 'c'),
	  ('lsm_flush', 'rel regclass', 'void', 'v', true, 'u', 'c'),
	  ('lsm_levels', 'rel regclass, OUT level integer, OUT runs integer, OUT entries bigint, OUT bytes bigint',
	   'SETOF record', 'v', true, 'u', 'c'),
	  ('lsm_memtables', 'rel regclass, OUT state text, OUT entries bigint, OUT bytes bigint',
	   'SETOF record', 'v', true, 'u', 'c'),
	  ('lsm_stats', 'rel regclass, OUT memtables integer, OUT memtable_entries bigint, '
	   'OUT memtable_bytes bigint, OUT levels integer, OUT runs integer, OUT run_entries bigint, '
	   'OUT run_bytes bigint, OUT flushes bigint, OUT bytes_flushed bigint, '
	   'OUT last_flush timestamp with time zone, OUT compactions bigint, OUT runs_moved bigint, '
	   'OUT bytes_compacted_read bigint, OUT bytes_compacted_written bigint, '
	   'OUT last_compaction timestamp with time zone, OUT user_bytes_written bigint, '
	   'OUT write_amplification double precision, OUT bloom_probes bigint, '
	   'OUT bloom_skips bigint, OUT gc_entries_dropped bigint, OUT gc_entries_frozen bigint, '
	   'OUT stall_slowdowns bigint, OUT stall_stops bigint, OUT stall_time double precision, '
	   'OUT delayed_write_rate bigint, OUT compacting_pid integer, '
	   'OUT compaction_requested boolean, OUT stats_reset timestamp with time zone',
	   'record', 'v', true, 'u', 'c'),
	  ('lsm_tableam_handler', 'internal', 'table_am_handler', 'v', true, 'u', 'c'),
	  ('lsm_verify', 'rel regclass, OUT problem text, OUT level integer, OUT run bigint, '
	   'OUT block bigint, OUT detail text', 'SETOF record', 'v', true, 'u', 'c')$$,
	'the functions, with their signatures and properties');

-- The maintenance functions are for a table's owner: the functions
-- themselves check that, so anyone may call them.
SELECT function_privs_are('lsm_flush', ARRAY['regclass'], 'public', ARRAY['EXECUTE'],
	'anyone may call lsm_flush (it checks ownership)');
SELECT function_privs_are('lsm_verify', ARRAY['regclass'], 'public', ARRAY['EXECUTE'],
	'anyone may call lsm_verify (it checks ownership)');

SELECT results_eq(
	$$SELECT amtype::text, amhandler::text FROM pg_am WHERE amname = 'lsm'$$,
	$$VALUES ('t', 'lsm_tableam_handler')$$,
	'lsm is a table access method with its handler');

SELECT has_view('lsm_tables', 'the lsm_tables view exists');
SELECT results_eq(
	$$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod) FROM pg_attribute
	  WHERE attrelid = 'lsm_tables'::regclass AND attnum > 0 ORDER BY attnum$$,
	$$SELECT 'relation', 'regclass'
	  UNION ALL
	  SELECT a.name COLLATE "default", format_type(a.typ, -1)
	  FROM pg_proc p,
		   unnest(p.proargnames, p.proallargtypes, p.proargmodes::text[])
		   WITH ORDINALITY AS a(name, typ, mode, n)
	  WHERE p.proname = 'lsm_stats' AND a.mode = 'o'$$,
	'lsm_tables: the relation, then every column of lsm_stats');
SELECT is((SELECT has_table_privilege('public', 'lsm_tables', 'SELECT')), true,
	'everyone may read lsm_tables (it shows only tables they may read)');

-- The settings: name, default, unit, context, range.
SELECT results_eq(
	$$SELECT name, boot_val, coalesce(unit, ''), context, coalesce(min_val, ''),
			 coalesce(max_val, '')
	  FROM pg_settings WHERE name LIKE 'lsm.%' ORDER BY name COLLATE "C"$$,
	$$VALUES
	  ('lsm.bloom_bits_per_key', '10', '', 'user', '0', '64'),
	  ('lsm.compaction_target_run_size', '8192', 'kB', 'sighup', '64', '1048576'),
	  ('lsm.delayed_write_rate', '16384', 'kB', 'sighup', '64', '2147483647'),
	  ('lsm.enable_lsmscan', 'on', '', 'user', '', ''),
	  ('lsm.l0_compaction_trigger', '4', '', 'sighup', '2', '64'),
	  ('lsm.l0_slowdown_trigger', '20', '', 'sighup', '2', '1000'),
	  ('lsm.l0_stop_trigger', '36', '', 'sighup', '2', '1000'),
	  ('lsm.max_frozen_memtables', '4', '', 'sighup', '1', '8'),
	  ('lsm.max_open_runs', '256', '', 'user', '0', '2147483647'),
	  ('lsm.max_tables', '128', '', 'postmaster', '8', '65536'),
	  ('lsm.memtable_pool_size', '131072', 'kB', 'postmaster', '2048', '2147483647'),
	  ('lsm.memtable_size', '16384', 'kB', 'postmaster', '1024', '1048576'),
	  ('lsm.region_wait_timeout', '60000', 'ms', 'user', '0', '2147483647')$$,
	'the lsm.* settings, their defaults, units, contexts and ranges');
SELECT throws_ok('SET lsm.nonexistent = 1', '42602', NULL,
	'other lsm.* names are reserved: a misspelt setting is an error');
SELECT is((SELECT current_setting('shared_preload_libraries')), 'lsm_am',
	'the server preloads lsm_am');

SELECT * FROM finish();
ROLLBACK;
