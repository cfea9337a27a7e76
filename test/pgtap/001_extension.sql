-- pgTAP: the extension's SQL objects.  Run by scripts/test.sh with pg_prove
-- against a throwaway cluster that preloads lsm_am.  Everything is rolled
-- back at the end.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION lsm_am;

SELECT plan(14);

SELECT has_extension('lsm_am', 'lsm_am is installed');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'lsm_am'), '0.1',
	'extension version is 0.1');
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'lsm_am'), false,
	'extension is not relocatable');

SELECT has_function('lsm_am_version', ARRAY[]::text[], 'lsm_am_version() exists');
SELECT function_returns('lsm_am_version', ARRAY[]::text[], 'text',
	'lsm_am_version() returns text');
SELECT function_lang_is('lsm_am_version', ARRAY[]::text[], 'c',
	'lsm_am_version() is a C function');
SELECT volatility_is('lsm_am_version', ARRAY[]::text[], 'immutable',
	'lsm_am_version() is immutable');

SELECT results_eq(
	'SELECT lsm_am_version()',
	$$VALUES ('lsm_am 0.1 (core 0.1.0)'::text)$$,
	'lsm_am_version() reports the extension and core versions');

SELECT is((SELECT current_setting('shared_preload_libraries')), 'lsm_am',
	'the server preloads lsm_am');

SELECT throws_ok('SET lsm.nonexistent = 1', '42602', NULL,
	'lsm.* settings are reserved');

SELECT has_function('lsm_stats', ARRAY['regclass'], 'lsm_stats(regclass) exists');
SELECT has_view('lsm_tables', 'the lsm_tables view exists');
SELECT has_function('lsm_verify', ARRAY['regclass'], 'lsm_verify(regclass) exists');
SELECT is((SELECT has_table_privilege('public', 'lsm_tables', 'SELECT')), true,
	'everyone may read lsm_tables (it shows only tables they may read)');

SELECT * FROM finish();
ROLLBACK;
