--
-- lsm_keys_types: lsm tables keyed (first column) by each type with an
-- order-preserving key encoding, filled with the type's edge values, NULLs
-- and duplicates in three batches (two flushed to runs, the last left in the
-- memtable).
--
-- A sequential scan of an lsm table returns its rows in key order, NULL keys
-- last, and rows with equal keys in row-id (= insertion = seq) order.  So
-- `SELECT * FROM t_x` must equal `SELECT * FROM h_x ORDER BY k NULLS LAST,
-- seq` on a heap copy.  check_keys() verifies that order, that both tables
-- hold the same rows, that ORDER BY k (ascending, descending, NULLS FIRST,
-- with LIMIT) gives the same keys, and that =, <, <=, >, >= and IS NULL on the
-- key select the same rows, for a sample of the keys.
--
-- Text under a collation whose order is not byte order (ICU here) and types
-- without an encoder (interval) give tables in row-id order: for those,
-- check_keys(.., in_key_order => false) compares the rows as sets, and the
-- displayed queries have an ORDER BY.
--
-- With LSM_TEST_AM=heap in the environment the "lsm" tables are heap tables
-- and check_keys() cannot check scan order.  The expected output came from
-- that run, with each `SELECT * FROM t_x; -- in key order` rewritten to
-- `SELECT * FROM t_x ORDER BY k NULLS LAST, seq; -- in key order` and back
-- (test/pending/gen-expected.sh).
--
SELECT current_setting('regress.am') AS am \gset
CREATE EXTENSION lsm_am;

-- fill(name, type, am, values): creates heap table h_<name> and table
-- t_<name> (with access method am), both (k <type>, seq int), and inserts
-- the values (SQL expressions) with seq = their position, into t_<name> in
-- three batches with a flush after the first two.
CREATE PROCEDURE fill(name text, typ text, am text, vals text[])
LANGUAGE plpgsql AS $$
DECLARE
	h text := 'h_' || name;
	t text := 't_' || name;
	n int := array_length(vals, 1);
BEGIN
	EXECUTE format('CREATE TABLE %I (k %s, seq int) USING heap', h, typ);
	EXECUTE format('CREATE TABLE %I (k %s, seq int) USING %I', t, typ, am);
	FOR i IN 1..n LOOP
		EXECUTE format('INSERT INTO %I VALUES (%s, %s)', h, vals[i], i);
	END LOOP;
	EXECUTE format('INSERT INTO %I SELECT * FROM %I WHERE seq <= %s ORDER BY seq', t, h, n / 3);
	CALL test_flush(t::regclass);
	EXECUTE format('INSERT INTO %I SELECT * FROM %I WHERE seq > %s AND seq <= %s ORDER BY seq',
				   t, h, n / 3, 2 * n / 3);
	CALL test_flush(t::regclass);
	EXECUTE format('INSERT INTO %I SELECT * FROM %I WHERE seq > %s ORDER BY seq', t, h, 2 * n / 3);
END $$;

-- check_keys(name, in_key_order): compares t_<name> with h_<name> (see the
-- top of this file); returns 'ok: N rows' or what differs.
CREATE FUNCTION check_keys(name text, in_key_order bool DEFAULT true) RETURNS text
LANGUAGE plpgsql SET datestyle = 'ISO, YMD' SET extra_float_digits = 1 AS $$
DECLARE
	h text := 'h_' || name;
	t text := 't_' || name;
	is_lsm bool;
	n bigint;
	d bigint;
	a1 text;
	a2 text;
	c1 bigint;
	c2 bigint;
	q text;
	typ text;
	val text;
	same bool;
	problems text[] := '{}';
BEGIN
	SELECT a.amname = 'lsm' INTO is_lsm
	FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = t::regclass;
	EXECUTE format('SELECT count(*) FROM %I', h) INTO n;
	EXECUTE format('SELECT count(*) FROM ((TABLE %I EXCEPT ALL TABLE %I) UNION ALL (TABLE %I EXCEPT ALL TABLE %I)) d',
				   h, t, t, h) INTO d;
	EXECUTE format('SELECT count(*) FROM %I', t) INTO c1;
	IF d <> 0 OR c1 <> n THEN
		problems := problems || format('%s rows in %s, %s in %s, %s differ', n, h, c1, t, d);
	END IF;
	-- the order of a plain scan
	IF in_key_order AND is_lsm THEN
		EXECUTE format('SELECT array_agg(seq)::text FROM %I', t) INTO a1;
		EXECUTE format('SELECT array_agg(seq ORDER BY k NULLS LAST, seq)::text FROM %I', h) INTO a2;
		IF a1 IS DISTINCT FROM a2 THEN
			problems := problems || format('scan order %s, key order %s', a1, a2);
		END IF;
	END IF;
	-- ORDER BY on the key
	FOREACH q IN ARRAY ARRAY['ORDER BY k', 'ORDER BY k DESC', 'ORDER BY k NULLS FIRST',
							 'ORDER BY k DESC NULLS LAST', 'ORDER BY k LIMIT 3',
							 'ORDER BY k DESC LIMIT 3', 'WHERE k IS NOT NULL ORDER BY k LIMIT 1']
	LOOP
		-- compared with the type's = (ties such as 0 and -0, or 1.0 and 1.00,
		-- may come in any order)
		EXECUTE format('SELECT ARRAY(SELECT k FROM %I %s) = ARRAY(SELECT k FROM %I %s)', t, q, h, q) INTO same;
		IF NOT same THEN
			EXECUTE format('SELECT ARRAY(SELECT k FROM %I %s)::text', t, q) INTO a1;
			EXECUTE format('SELECT ARRAY(SELECT k FROM %I %s)::text', h, q) INTO a2;
			problems := problems || format('%s: %s, heap %s', q, a1, a2);
		END IF;
	END LOOP;
	-- restrictions on the key, for (a sample of) its values, as constants
	SELECT format_type(atttypid, atttypmod) INTO typ
	FROM pg_attribute WHERE attrelid = h::regclass AND attname = 'k';
	FOR val IN EXECUTE format('SELECT DISTINCT ON (md5(k::text)) k::text FROM %I WHERE k IS NOT NULL ORDER BY md5(k::text) LIMIT 25', h)
	LOOP
		FOREACH q IN ARRAY ARRAY['k = %1$s', 'k < %1$s', 'k <= %1$s', 'k > %1$s', 'k >= %1$s',
								 'k IS NULL OR k = %1$s', 'k BETWEEN %1$s AND %1$s', 'k <> %1$s']
		LOOP
			q := format(q, format('%L::%s', val, typ));
			EXECUTE format('SELECT count(*) FROM (SELECT * FROM %I WHERE %s EXCEPT ALL SELECT * FROM %I WHERE %s) d',
						   h, q, t, q) INTO c1;
			EXECUTE format('SELECT count(*) FROM (SELECT * FROM %I WHERE %s EXCEPT ALL SELECT * FROM %I WHERE %s) d',
						   t, q, h, q) INTO c2;
			IF c1 <> 0 OR c2 <> 0 THEN
				problems := problems || format('%s: %s rows only in heap, %s only in %s', q, c1, c2, t);
			END IF;
		END LOOP;
	END LOOP;
	EXECUTE format('SELECT count(*) FROM (SELECT * FROM %I WHERE k IS NULL EXCEPT ALL SELECT * FROM %I WHERE k IS NULL) d',
				   h, t) INTO c1;
	EXECUTE format('SELECT count(*) FROM (SELECT * FROM %I WHERE k IS NULL EXCEPT ALL SELECT * FROM %I WHERE k IS NULL) d',
				   t, h) INTO c2;
	IF c1 <> 0 OR c2 <> 0 THEN
		problems := problems || format('k IS NULL: %s rows only in heap, %s only in %s', c1, c2, t);
	END IF;
	IF cardinality(problems) = 0 THEN
		RETURN format('ok: %s rows', n);
	END IF;
	RETURN array_to_string(problems, E'\n');
END $$;

--
-- smallint
--
CALL fill('int2', 'smallint', :'am', ARRAY['0', '-32768', '32767', '1', '-1', '5',
	'NULL', '255', '256', '-256', '5', '-32768', 'NULL', '32767', '-255', '5', '100', '0']);
SELECT * FROM t_int2; -- in key order
SELECT check_keys('int2');
SELECT * FROM t_int2 WHERE k = 5;
SELECT * FROM t_int2 WHERE k > 255 ORDER BY k, seq;
SELECT * FROM t_int2 WHERE k IS NULL ORDER BY seq;

--
-- integer
--
CALL fill('int4', 'integer', :'am', ARRAY['0', '-2147483648', '2147483647', '1', '-1',
	'65535', '65536', '-65536', '16777216', 'NULL', '42', '42', '-42', '2147483646',
	'-2147483647', 'NULL', '42', '-2147483648', '256', '-1']);
SELECT * FROM t_int4; -- in key order
SELECT check_keys('int4');
SELECT * FROM t_int4 WHERE k BETWEEN -42 AND 42 ORDER BY k, seq;

--
-- bigint
--
CALL fill('int8', 'bigint', :'am', ARRAY['0', '-9223372036854775808', '9223372036854775807',
	'1', '-1', '4294967296', '-4294967296', '72057594037927936', 'NULL', '7', '7',
	'-9223372036854775807', '9223372036854775806', '7', 'NULL', '-72057594037927936',
	'2147483648', '-2147483649', '0']);
SELECT * FROM t_int8; -- in key order
SELECT check_keys('int8');
SELECT * FROM t_int8 WHERE k >= 9223372036854775806 ORDER BY k, seq;
SELECT * FROM t_int8 WHERE k < -4294967296 ORDER BY k, seq;

--
-- real
--
CALL fill('float4', 'real', :'am', ARRAY['0', '''-0''', '1', '-1', '''Infinity''',
	'''-Infinity''', '''NaN''', '''1.17549435e-38''', '''1e-45''', '''-1e-45''',
	'''3.4028235e+38''', '''-3.4028235e+38''', '0.5', '-0.5', 'NULL', '''NaN''', '1',
	'''Infinity''::real - ''Infinity''::real', '''-0''', '0.1', 'NULL', '-0.1']);
SELECT * FROM t_float4; -- in key order
SELECT check_keys('float4');
SELECT * FROM t_float4 WHERE k = 0 ORDER BY seq;
SELECT * FROM t_float4 WHERE k = 'NaN' ORDER BY seq;
SELECT * FROM t_float4 WHERE k > 1e30 ORDER BY k, seq;

--
-- double precision
--
CALL fill('float8', 'double precision', :'am', ARRAY['0', '''-0''', '1', '-1', '''Infinity''',
	'''-Infinity''', '''NaN''', '''Infinity''::float8 - ''Infinity''::float8',
	'''2.2250738585072014e-308''', '''5e-324''', '''-5e-324''',
	'''1.7976931348623157e+308''', '''-1.7976931348623157e+308''', '1e100', '-1e100',
	'0.1', 'NULL', '1.0000000000000002', '1', '''NaN''', '''-0''', 'NULL', '-0.1',
	'0::float8 * ''-Infinity''::float8', '''-Infinity''', '0']);
SELECT * FROM t_float8; -- in key order
SELECT check_keys('float8');
SELECT * FROM t_float8 WHERE k = 0 ORDER BY seq;
SELECT * FROM t_float8 WHERE k = 'NaN' ORDER BY seq;
SELECT * FROM t_float8 WHERE k < -1 ORDER BY k, seq;

--
-- numeric
--
CALL fill('numeric', 'numeric', :'am', ARRAY['0', '0.000', '1', '1.0', '1.00', '-1', '-1.0',
	'0.0001', '-0.0001', '1e-20', '-1e-20', '1e20', '-1e20', '123456789.123456789',
	'''NaN''', '''Infinity''', '''-Infinity''', '10000', '9999.9999', '10000.0001',
	'100000000', '0.5', '-0.5', '-123.45', 'NULL', '''NaN''', '1e30', '-1e30',
	'99999999', '100000001', '-9999.9999', '-10000', '-10000.0001', 'NULL', '0.00001',
	'12345678901234567890.12345678901234567890', '1']);
SELECT * FROM t_numeric; -- in key order
SELECT check_keys('numeric');
SELECT * FROM t_numeric WHERE k = 1 ORDER BY seq;
SELECT * FROM t_numeric WHERE k = 0 ORDER BY seq;
SELECT * FROM t_numeric WHERE k >= 1e20 ORDER BY k, seq;
SELECT * FROM t_numeric WHERE k BETWEEN -10000 AND -9999 ORDER BY k, seq;

--
-- text and varchar under the "C" collation (byte order)
--
CALL fill('text_c', 'text COLLATE "C"', :'am', ARRAY['''''', '''a''', '''A''', '''ab''',
	'''a b''', '''b''', '''z''', '''Z''', '''é''', '''€''', '''😀''', 'repeat(''abc'', 300)',
	'NULL', '''a''', '''ä''', ''' ''', '''!''', '''0''', '''~''', '''aa''', '''ab''',
	'''abc''', '''abd''', '''ab ''', 'repeat(''abc'', 299) || ''ab''', '''''', 'NULL']);
SELECT left(k, 12) AS k_prefix, length(k), seq FROM t_text_c; -- in key order
SELECT check_keys('text_c');
SELECT * FROM t_text_c WHERE k = 'ab' ORDER BY seq;
SELECT * FROM t_text_c WHERE k > 'z' ORDER BY k, seq;
SELECT * FROM t_text_c WHERE k >= 'a' AND k < 'b' AND length(k) < 10 ORDER BY k, seq;
CALL fill('varchar_c', 'varchar(20) COLLATE "C"', :'am', ARRAY['''''', '''x''', '''xy''',
	'''x y''', '''X''', '''xyz''', 'NULL', '''xy''', '''ß''', '''ss''', '''y''', '''aaaaaaaaaaaaaaaaaaaa''',
	'''aaaaaaaaaaaaaaaaaaa''', '''xy''']);
SELECT * FROM t_varchar_c; -- in key order
SELECT check_keys('varchar_c');
SELECT * FROM t_varchar_c WHERE k = 'xy' ORDER BY seq;

--
-- text under the database's default collation and under an ICU collation:
-- no byte-order encoding there (unless the default collation is one), so
-- these are compared as sets
--
CALL fill('text_default', 'text', :'am', ARRAY['''b''', '''a''', '''B''', '''A''', '''é''',
	'''e''', '''f''', 'NULL', '''a''', '''''', '''a-b''', '''ab''', '''a b''']);
SELECT * FROM t_text_default ORDER BY k, seq;
SELECT check_keys('text_default', in_key_order => false);
SELECT * FROM t_text_default WHERE k = 'a' ORDER BY seq;
SELECT * FROM t_text_default WHERE k > 'a' ORDER BY k, seq;
CALL fill('text_icu', 'text COLLATE "und-x-icu"', :'am', ARRAY['''b''', '''a''', '''B''',
	'''A''', '''é''', '''e''', '''f''', 'NULL', '''a''', '''''', '''a-b''', '''ab''',
	'''a b''', '''E''', '''É''']);
SELECT * FROM t_text_icu ORDER BY k, seq;
SELECT check_keys('text_icu', in_key_order => false);
SELECT * FROM t_text_icu WHERE k < 'b' ORDER BY k, seq;
SELECT * FROM t_text_icu WHERE k BETWEEN 'A' AND 'e' ORDER BY k, seq;

--
-- bytea
--
CALL fill('bytea', 'bytea', :'am', ARRAY['''\x''', '''\x00''', '''\x0000''', '''\x0001''',
	'''\x00ff''', '''\x01''', '''\x7f''', '''\x80''', '''\xff''', '''\xff00''', '''\xffff''',
	'''\x000000''', 'NULL', '''\x00''', '''\x0100''', '''\x00fe''', '''\x0002''', '''\x''',
	'''\x00ff00''', '''\x000100''']);
SELECT * FROM t_bytea; -- in key order
SELECT check_keys('bytea');
SELECT * FROM t_bytea WHERE k = '\x00' ORDER BY seq;
SELECT * FROM t_bytea WHERE k < '\x01' ORDER BY k, seq;

--
-- uuid
--
CALL fill('uuid', 'uuid', :'am', ARRAY['''00000000-0000-0000-0000-000000000000''',
	'''ffffffff-ffff-ffff-ffff-ffffffffffff''', '''00000000-0000-0000-0000-000000000001''',
	'''80000000-0000-0000-0000-000000000000''', '''7fffffff-ffff-ffff-ffff-ffffffffffff''',
	'''a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11''', 'NULL', '''A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11''',
	'''10000000-0000-0000-0000-000000000000''', '''00000000-0000-0000-0000-000000000100''',
	'''ffffffff-ffff-ffff-ffff-fffffffffffe''', '''00000000-0000-0000-0000-000000000000''']);
SELECT * FROM t_uuid; -- in key order
SELECT check_keys('uuid');
SELECT * FROM t_uuid WHERE k = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' ORDER BY seq;

--
-- date
--
CALL fill('date', 'date', :'am', ARRAY['''-infinity''', '''infinity''', '''4714-11-24 BC''',
	'''5874897-12-31''', '''2000-01-01''', '''1999-12-31''', '''1970-01-01''',
	'''1969-12-31''', '''2024-02-29''', 'NULL', '''2000-01-01''', '''0001-01-01''',
	'''0001-12-31 BC''', '''infinity''', '''2000-01-02''']);
SELECT * FROM t_date; -- in key order
SELECT check_keys('date');
SELECT * FROM t_date WHERE k = '2000-01-01' ORDER BY seq;
SELECT * FROM t_date WHERE k < '0001-01-01' ORDER BY k, seq;

--
-- timestamp
--
CALL fill('timestamp', 'timestamp', :'am', ARRAY['''-infinity''', '''infinity''',
	'''4714-11-24 00:00:00 BC''', '''294276-12-31 23:59:59.999999''',
	'''2000-01-01 00:00:00''', '''2000-01-01 00:00:00.000001''',
	'''1999-12-31 23:59:59.999999''', '''1970-01-01''', 'NULL', '''2000-01-01''',
	'''1969-12-31 23:59:59''', '''2024-02-29 12:34:56.789''', '''infinity''']);
SELECT * FROM t_timestamp; -- in key order
SELECT check_keys('timestamp');
SELECT * FROM t_timestamp WHERE k = '2000-01-01' ORDER BY seq;
SELECT * FROM t_timestamp WHERE k > '2000-01-01' ORDER BY k, seq;

--
-- timestamp with time zone (equal instants written in different zones are
-- duplicates)
--
CALL fill('timestamptz', 'timestamptz', :'am', ARRAY['''-infinity''', '''infinity''',
	'''4714-11-24 00:00:00+00 BC''', '''294276-12-31 23:59:59.999999+00''',
	'''2000-01-01 00:00:00+00''', '''2000-01-01 00:00:00+14''', '''1999-12-31 23:00:00-01''',
	'''epoch''', 'NULL', '''2000-01-01 00:00:00.000001+00''', '''1969-12-31 23:59:59.999999+00''',
	'''2000-01-01 09:00:00+09''', 'NULL']);
SELECT * FROM t_timestamptz; -- in key order
SELECT check_keys('timestamptz');
SELECT * FROM t_timestamptz WHERE k = '2000-01-01 00:00:00+00' ORDER BY seq;

--
-- boolean
--
CALL fill('bool', 'boolean', :'am', ARRAY['true', 'false', 'NULL', 'true', 'false', 'true',
	'NULL', 'false', 'true']);
SELECT * FROM t_bool; -- in key order
SELECT check_keys('bool');
SELECT * FROM t_bool WHERE k ORDER BY seq;
SELECT * FROM t_bool WHERE NOT k ORDER BY seq;
SELECT * FROM t_bool WHERE k IS NULL ORDER BY seq;

--
-- a type without a key encoding (interval: '1 day' = '24 hours'): the
-- table is in row-id order
--
CALL fill('interval', 'interval', :'am', ARRAY['''1 day''', '''24 hours''', '''-1 year''',
	'NULL', '''0''', '''1 mon''', '''30 days''', '''00:00:00.000001''', '''-1 day''']);
SELECT * FROM t_interval ORDER BY k, seq;
SELECT check_keys('interval', in_key_order => false);
SELECT * FROM t_interval WHERE k = '1 day' ORDER BY seq;

--
-- Many rows: random keys in three batches, with duplicates.
--
SELECT setseed(0.5);
SELECT ARRAY(
	SELECT CASE WHEN random() < 0.02 THEN 'NULL'
				ELSE ((random() * 2 - 1) * 9.2e18)::bigint::text END
	FROM generate_series(1, 1500)
	UNION ALL
	SELECT (g % 100)::text FROM generate_series(1, 1500) g) AS vals \gset
CALL fill('int8_many', 'bigint', :'am', :'vals');
SELECT check_keys('int8_many');
SELECT ARRAY(
	SELECT round(((random() - 0.5) * 10 ^ (random() * 40 - 20))::numeric, (random() * 30)::int)::text
	FROM generate_series(1, 2000)) AS vals \gset
CALL fill('numeric_many', 'numeric', :'am', :'vals');
SELECT check_keys('numeric_many');
SELECT ARRAY(
	SELECT ((random() - 0.5) * 10 ^ (random() * 200 - 100))::text
	FROM generate_series(1, 2000)) AS vals \gset
CALL fill('float8_many', 'double precision', :'am', :'vals');
SELECT check_keys('float8_many');
SELECT ARRAY(
	SELECT quote_literal(substr(md5(g::text), 1, (g % 7) + 1) || repeat('x', g % 3))
	FROM generate_series(1, 2000) g) AS vals \gset
CALL fill('text_many', 'text COLLATE "C"', :'am', :'vals');
SELECT check_keys('text_many');

-- Updates keep the order; an updated row gets a new row id, so it comes
-- after the rows of equal key (seq is left as it was: compare as sets).
UPDATE t_int4 SET k = k + 1 WHERE k BETWEEN -1 AND 1000;
UPDATE h_int4 SET k = k + 1 WHERE k BETWEEN -1 AND 1000;
UPDATE t_int4 SET k = NULL WHERE k = 43;
UPDATE h_int4 SET k = NULL WHERE k = 43;
CALL test_flush('t_int4');
DELETE FROM t_int4 WHERE k = 2;
DELETE FROM h_int4 WHERE k = 2;
SELECT check_keys('int4', in_key_order => false);
SELECT k FROM t_int4; -- in key order

DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ '^[ht]_'
			 AND relnamespace = 'public'::regnamespace
	LOOP
		EXECUTE format('DROP TABLE %I', r.relname);
	END LOOP;
END $$;
DROP FUNCTION check_keys(text, bool);
DROP PROCEDURE fill(text, text, text, text[]);
DROP EXTENSION lsm_am;
