--
-- lsm_keys: the order-preserving key encodings (src/table/lsm_keys.c).
--
-- lsm_encode_key(v) returns the bytes an lsm table stores for v as its first
-- column.  For every supported type, a set of values with the edge cases of
-- that type is checked: ordering the values by the encoding (bytea order is
-- memcmp order) must give exactly ORDER BY value, ties included; and with a
-- row id appended the encoding must still order by (value, row id), which
-- checks that encodings are self-delimiting.
--
CREATE EXTENSION lsm_am;
CREATE SCHEMA lsm_keys_test;
SET search_path = lsm_keys_test, public;
SELECT setseed(0.4242);

-- Rank mismatches between ORDER BY v and ORDER BY the encoding, over the
-- whole table (NULLs included, NULLS LAST as btree ASC), then the same with
-- a random 48-bit row id appended, as in a data key.
CREATE FUNCTION keys_check(tab regclass,
	OUT nvalues bigint,
	OUT order_mismatches bigint, OUT rowid_mismatches bigint)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT count(*) FROM %s', tab) INTO nvalues;
	EXECUTE format($q$
		SELECT count(*) FILTER (WHERE by_value <> by_key)
		FROM (SELECT dense_rank() OVER (ORDER BY v) AS by_value,
					 dense_rank() OVER (ORDER BY lsm_encode_key(v)) AS by_key
			  FROM %s) s$q$, tab)
		INTO order_mismatches;
	EXECUTE format($q$
		SELECT count(*) FILTER (WHERE by_value <> by_key)
		FROM (SELECT dense_rank() OVER (ORDER BY v, id) AS by_value,
					 dense_rank() OVER (ORDER BY lsm_encode_key(v) ||
										substr(int8send(id), 3)) AS by_key
			  FROM (SELECT v, (random() * 281474976710655)::int8 AS id
					FROM %s) r) s$q$, tab)
		INTO rowid_mismatches;
END
$$;

-- The layout, pinned: a tag byte (0x01 value, 0x02 NULL), then the type's
-- bytes.  These are part of the on-disk format.
SELECT lsm_encode_key(NULL::int4) AS null_int4,
	   lsm_encode_key(0::int2) AS int2_0,
	   lsm_encode_key(-1::int4) AS int4_m1,
	   lsm_encode_key(1::int8) AS int8_1;
SELECT lsm_encode_key(1.5::float4) AS f4, lsm_encode_key(-0::float4) AS f4_m0,
	   lsm_encode_key('NaN'::float8) AS f8_nan;
SELECT lsm_encode_key(true) AS t, lsm_encode_key(false) AS f,
	   lsm_encode_key('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid) AS u;
SELECT lsm_encode_key('\x610062'::bytea) AS bytes,
	   lsm_encode_key(''::text COLLATE "C") AS empty,
	   lsm_encode_key('ab  '::bpchar COLLATE "C") AS bpchar;
SELECT n, lsm_encode_key(n) FROM (VALUES ('0'::numeric), ('1'), ('-1'),
	('12345.678'), ('-0.0001'), ('NaN'), ('Infinity'), ('-Infinity')) v(n);
SELECT lsm_encode_key('2000-01-01'::date) AS d,
	   lsm_encode_key('2000-01-01 00:00:01'::timestamp) AS ts,
	   lsm_encode_key('infinity'::timestamptz) AS tstz;

-- int2
CREATE TABLE k_int2 (v int2);
INSERT INTO k_int2 SELECT g FROM generate_series(-32768, 32767, 97) g;
INSERT INTO k_int2 VALUES (-32768), (-32767), (-256), (-255), (-1), (0), (0),
	(1), (255), (256), (32766), (32767), (NULL), (NULL);
SELECT * FROM keys_check('k_int2');

-- int4
CREATE TABLE k_int4 (v int4);
INSERT INTO k_int4 SELECT (random() * 4294967295 - 2147483648)::int8
	FROM generate_series(1, 2000);
INSERT INTO k_int4 VALUES (-2147483648), (-2147483647), (-16777216), (-65536),
	(-256), (-1), (0), (1), (255), (256), (65536), (16777216), (2147483646),
	(2147483647), (2147483647), (NULL);
SELECT * FROM keys_check('k_int4');

-- int8
CREATE TABLE k_int8 (v int8);
INSERT INTO k_int8 SELECT ((random() - 0.5) * 2 * 9.2e18)::numeric::int8
	FROM generate_series(1, 2000);
INSERT INTO k_int8 SELECT g FROM generate_series(-300, 300) g;
INSERT INTO k_int8 VALUES (-9223372036854775808), (-9223372036854775807),
	(-4294967296), (-4294967295), (4294967295), (4294967296),
	(9223372036854775806), (9223372036854775807), (NULL);
SELECT * FROM keys_check('k_int8');

-- float4: -0 = +0, every NaN equal and above +Infinity, denormals
CREATE TABLE k_float4 (v float4);
INSERT INTO k_float4 SELECT ((random() - 0.5) * 10 ^ (random() * 70 - 35))::float4
	FROM generate_series(1, 2000);
INSERT INTO k_float4 VALUES ('-Infinity'), ('Infinity'), ('NaN'), ('NaN'),
	('-0'), ('0'), ('-0'), ('1.4e-45'), ('-1.4e-45'), ('1.17549435e-38'),
	('-1.17549435e-38'), ('3.4028235e38'), ('-3.4028235e38'), ('1'), ('-1'),
	('1.0000001'), ('0.99999994'), (NULL);
INSERT INTO k_float4 VALUES (-('NaN'::float4));	-- a NaN with the sign bit set
SELECT * FROM keys_check('k_float4');
SELECT lsm_encode_key('-0'::float4) = lsm_encode_key('0'::float4) AS zeros_equal,
	   lsm_encode_key(-('NaN'::float4)) = lsm_encode_key('NaN'::float4) AS nans_equal;

-- float8
CREATE TABLE k_float8 (v float8);
INSERT INTO k_float8 SELECT (random() - 0.5) * 10 ^ (random() * 600 - 300)
	FROM generate_series(1, 2000);
INSERT INTO k_float8 SELECT g / 7.0 FROM generate_series(-50, 50) g;
INSERT INTO k_float8 VALUES ('-Infinity'), ('Infinity'), ('NaN'), ('NaN'),
	('-0'), ('0'), ('4.9e-324'), ('-4.9e-324'), ('2.2250738585072014e-308'),
	('-2.2250738585072014e-308'), ('1.7976931348623157e308'),
	('-1.7976931348623157e308'), ('1'), ('-1'), ('1.0000000000000002'),
	('0.9999999999999999'), (NULL), (NULL);
INSERT INTO k_float8 VALUES (-('NaN'::float8));
SELECT * FROM keys_check('k_float8');
SELECT lsm_encode_key('-0'::float8) = lsm_encode_key('0'::float8) AS zeros_equal,
	   lsm_encode_key(-('NaN'::float8)) = lsm_encode_key('NaN'::float8) AS nans_equal;

-- bool
CREATE TABLE k_bool (v bool);
INSERT INTO k_bool VALUES (true), (false), (NULL), (true), (false);
SELECT * FROM keys_check('k_bool');

-- uuid
CREATE TABLE k_uuid (v uuid);
INSERT INTO k_uuid SELECT md5(random()::text)::uuid FROM generate_series(1, 1000);
INSERT INTO k_uuid VALUES ('00000000-0000-0000-0000-000000000000'),
	('00000000-0000-0000-0000-000000000001'),
	('80000000-0000-0000-0000-000000000000'),
	('7fffffff-ffff-ffff-ffff-ffffffffffff'),
	('ffffffff-ffff-ffff-ffff-ffffffffffff'),
	('ffffffff-ffff-ffff-ffff-ffffffffffff'), (NULL);
SELECT * FROM keys_check('k_uuid');

-- bytea: zero bytes, prefixes, 0xff
CREATE TABLE k_bytea (v bytea);
INSERT INTO k_bytea VALUES (''), ('\x00'), ('\x0000'), ('\x000000'), ('\x0001'),
	('\x00ff'), ('\x01'), ('\x0100'), ('\x01ff'), ('\xff'), ('\xff00'),
	('\xffff'), ('\xffff00'), ('a'), ('a\000'), ('a\001'), ('a\377'), ('ab'),
	('ab\000'), ('b'), (''), ('a'), (NULL);
INSERT INTO k_bytea
	SELECT decode(string_agg(lpad(to_hex((random() * 3)::int *
										 (random() * 85)::int), 2, '0'), ''),
				  'hex')
	FROM generate_series(1, 6000) g
	GROUP BY g % 1000;
INSERT INTO k_bytea
	SELECT substr(v, 1, (random() * length(v))::int) FROM k_bytea;
SELECT * FROM keys_check('k_bytea');

-- text under "C": control characters, prefixes, trailing spaces, multibyte
CREATE TABLE k_text (v text COLLATE "C");
INSERT INTO k_text VALUES (''), (E'\x01'), (E'\x01\x01'), (' '), ('  '),
	('a'), (E'a\x01'), (E'a\x01b'), ('a '), ('a  '), ('ab'), ('abc'), ('b'),
	('Z'), ('z'), ('ä'), ('äb'), ('日本'), (E'\u007f'), (E'\u0080'),
	(E'\U0010FFFF'), (''), ('a'), (NULL);
INSERT INTO k_text
	SELECT string_agg(chr(CASE WHEN random() < 0.1 THEN 1 + (random() * 40)::int
							   WHEN random() < 0.1 THEN 160 + (random() * 2000)::int
							   ELSE 97 + (random() * 3)::int END), '')
	FROM generate_series(1, 4000) g
	GROUP BY g % 1000;
INSERT INTO k_text
	SELECT substr(v, 1, (random() * length(v))::int) FROM k_text;
SELECT * FROM keys_check('k_text');

-- varchar under "C"
CREATE TABLE k_varchar (v varchar(20) COLLATE "C");
INSERT INTO k_varchar SELECT substr(v, 1, 20) FROM k_text;
SELECT * FROM keys_check('k_varchar');

-- bpchar under "C": trailing spaces do not count ('a' = 'a  ' < E'a\x01')
CREATE TABLE k_bpchar (v bpchar COLLATE "C");
INSERT INTO k_bpchar SELECT v FROM k_text;
INSERT INTO k_bpchar VALUES ('a'), ('a '), ('a   '), (E'a\x01'), (''), ('  ');
SELECT * FROM keys_check('k_bpchar');
CREATE TABLE k_char5 (v char(5) COLLATE "C");
INSERT INTO k_char5 SELECT substr(v, 1, 5) FROM k_text;
SELECT * FROM keys_check('k_char5');
SELECT lsm_encode_key('a'::bpchar COLLATE "C") = lsm_encode_key('a   '::bpchar COLLATE "C")
	AS trailing_spaces_ignored,
	   lsm_encode_key('a'::text COLLATE "C") = lsm_encode_key('a   '::text COLLATE "C")
	AS text_keeps_them;

-- numeric: signs, scales, NaN and infinities, tiny and huge values, digit
-- strings that are prefixes of each other, equal values of different scale
CREATE TABLE k_numeric (v numeric);
INSERT INTO k_numeric VALUES ('NaN'), ('NaN'), ('Infinity'), ('-Infinity'),
	('0'), ('0.000'), ('-0'), ('-0.00'), ('1'), ('1.0'), ('1.00000'), ('-1'),
	('-1.000'), ('1.0001'), ('1.00001'), ('1.000000001'), ('-1.0001'),
	('-1.00001'), ('0.0001'), ('0.00001'), ('0.001'), ('-0.0001'), ('-0.00001'),
	('9999'), ('10000'), ('10001'), ('99999999'), ('100000000'),
	('99999999.99999999'), ('-9999'), ('-10000'), ('-10001'), ('-99999999'),
	('-100000000'), ('123456789012345678901234567890.123456789012345678901234567890'),
	('-123456789012345678901234567890.123456789012345678901234567890'),
	('1e-16383'), ('-1e-16383'), ('2e-16383'), ('1e-1000'), ('1e-999'),
	('1e100000'), ('-1e100000'), ('9.999e100000'), ('1e131071'),
	('-1e131071'), (NULL), (NULL);
INSERT INTO k_numeric
	SELECT round(((random() - 0.5) * 10 ^ (random() * 60 - 30))::numeric,
				 (random() * 40)::int)
	FROM generate_series(1, 3000);
INSERT INTO k_numeric SELECT g::numeric / 8 FROM generate_series(-200, 200) g;
INSERT INTO k_numeric SELECT (g::numeric / 8)::numeric(20, 10)
	FROM generate_series(-200, 200, 3) g;
INSERT INTO k_numeric SELECT v * 10000 FROM k_numeric
	WHERE v BETWEEN -1e30 AND 1e30 LIMIT 500;
SELECT * FROM keys_check('k_numeric');
SELECT count(*) AS equal_values_with_different_encodings
FROM k_numeric a JOIN k_numeric b ON a.v = b.v
WHERE lsm_encode_key(a.v) <> lsm_encode_key(b.v);

-- date
CREATE TABLE k_date (v date);
INSERT INTO k_date SELECT '2000-01-01'::date + (random() * 2000000 - 1000000)::int
	FROM generate_series(1, 2000);
INSERT INTO k_date VALUES ('-infinity'), ('infinity'), ('4714-11-24 BC'),
	('5874897-12-31'), ('1999-12-31'), ('2000-01-01'), ('2000-01-02'), (NULL);
SELECT * FROM keys_check('k_date');

-- timestamp
CREATE TABLE k_timestamp (v timestamp);
INSERT INTO k_timestamp SELECT '2000-01-01'::timestamp +
	(random() * 2e11 - 1e11) * interval '1 second'
	FROM generate_series(1, 2000);
INSERT INTO k_timestamp VALUES ('-infinity'), ('infinity'),
	('4714-11-24 00:00:00 BC'), ('294276-12-31 23:59:59.999999'),
	('1999-12-31 23:59:59.999999'), ('2000-01-01 00:00:00'),
	('2000-01-01 00:00:00.000001'), (NULL);
SELECT * FROM keys_check('k_timestamp');

-- timestamptz
CREATE TABLE k_timestamptz (v timestamptz);
INSERT INTO k_timestamptz SELECT v FROM k_timestamp
	WHERE v BETWEEN '1000-01-01' AND '100000-01-01';
INSERT INTO k_timestamptz VALUES ('-infinity'), ('infinity'),
	('4714-11-24 00:00:00+00 BC'), ('294276-12-31 23:59:59.999999+00'),
	('2000-01-01 00:00:00+00'), ('2000-01-01 00:00:00.000001+00'), (NULL);
SELECT * FROM keys_check('k_timestamptz');

-- A domain encodes as its base type.
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
SELECT lsm_encode_key(5::posint) = lsm_encode_key(5::int4) AS domain_as_base,
	   lsm_encode_key(5::information_schema.cardinal_number) =
	   lsm_encode_key(5::int4) AS system_domain_as_base;
-- A domain over bpchar too (its encoder strips the trailing spaces).
CREATE DOMAIN short_code AS char(3);
SELECT lsm_encode_key('ab'::short_code COLLATE "C") =
	   lsm_encode_key('ab'::bpchar COLLATE "C") AS bpchar_domain_as_base;

-- No encoder: text under a linguistic collation, and other types.
CREATE COLLATION lsm_keys_linguistic (provider = libc, locale = 'C.UTF-8');
SELECT lsm_encode_key('a'::text COLLATE lsm_keys_linguistic);
SELECT lsm_encode_key('1 day'::interval);

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA lsm_keys_test CASCADE;
DROP EXTENSION lsm_am;
