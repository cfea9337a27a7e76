--
-- lsm_key_ddl: DDL on an lsm table's key column (its first column).
--
-- The key description (encoder, type, collation) is taken from the catalog
-- when a relfilenode is formatted (CREATE TABLE, TRUNCATE, rewrites) and
-- stored in its metapage; every key of that relfilenode is encoded with it.
-- DDL that skips the rewrite therefore never mixes two encodings in a table:
--   - a collation change keeps the stored order (byte order for "C");
--   - a binary-coercible type change (varchar(3) -> varchar(10), varchar ->
--     text -> bpchar, timestamp -> timestamptz under UTC) keeps the stored
--     encoder (text's, which counts trailing spaces, even once the column is
--     bpchar);
--   - once the first column is dropped, new rows get a NULL key (after every
--     value, in row-id order).
-- A rewrite (bigint -> numeric, bpchar -> text) or a TRUNCATE re-encodes
-- under the catalog's description at that time.
--
-- Each lsm table l<x> has a heap copy h<x> that gets the same statements;
-- same_rows() compares their contents, and the plain scans of the lsm
-- tables show the stored order (expected output reasoned from the
-- encodings; scan_order_is() checks the order of the keys against ORDER BY
-- on the heap copy where it still has the key).  same_storage tells whether
-- the ALTER kept the relfilenode (no rewrite).
--
CREATE EXTENSION lsm_am;

CREATE PROCEDURE flush(rel regclass)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM lsm_flush(rel);
END $$;

-- Whether the plain scan of lsm table l returns the keys (expression key)
-- in the order of "ORDER BY key NULLS LAST" on heap table h, compared with
-- the key's = (3 and 3.0 are equal keys, and come in row-id order).
CREATE FUNCTION scan_order_is(l regclass, h regclass, key text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	same bool;
	a1 text;
	a2 text;
	q1 text := format('SELECT %s FROM %s', key, l);
	q2 text := format('SELECT %s FROM %s ORDER BY 1 NULLS LAST', key, h);
BEGIN
	EXECUTE format('SELECT ARRAY(%s) = ARRAY(%s)', q1, q2) INTO same;
	IF same THEN
		RETURN 'ok';
	END IF;
	EXECUTE format('SELECT ARRAY(%s)::text', q1) INTO a1;
	EXECUTE format('SELECT ARRAY(%s)::text', q2) INTO a2;
	RETURN format('scan order %s, expected %s', a1, a2);
END $$;

-- ------------------------------------------------------------------------
-- Collation change without a rewrite: "C" -> "und-x-icu".  The table stays
-- in byte order; ORDER BY k sorts by the new collation.
-- ------------------------------------------------------------------------
CREATE TABLE hc (k text COLLATE "C", seq int) USING heap;
CREATE TABLE lc (k text COLLATE "C", seq int) USING lsm;
INSERT INTO hc VALUES ('b', 1), ('B', 2), ('a', 3), ('A', 4), ('é', 5),
	('e', 6), (NULL, 7), ('a', 8);
INSERT INTO lc SELECT * FROM hc ORDER BY seq;
CALL flush('lc');
CREATE INDEX lc_k ON lc (k);
CREATE INDEX hc_k ON hc (k);
SELECT pg_relation_filenode('lc') AS fn \gset
ALTER TABLE hc ALTER COLUMN k TYPE text COLLATE "und-x-icu";
ALTER TABLE lc ALTER COLUMN k TYPE text COLLATE "und-x-icu";
SELECT pg_relation_filenode('lc') = :fn AS same_storage;
INSERT INTO hc VALUES ('E', 9), ('b', 10), ('ä', 11), (NULL, 12), ('Z', 13);
INSERT INTO lc SELECT * FROM hc WHERE seq > 8 ORDER BY seq;
-- byte order (UTF-8), equal keys and NULLs in insertion order
SELECT * FROM lc;
SELECT scan_order_is('lc', 'hc', 'k COLLATE "C"');
SELECT same_rows('hc', 'lc');
-- ORDER BY and comparisons use the column's collation, as on heap
SELECT k, seq FROM lc ORDER BY k, seq;
SELECT ARRAY(SELECT seq FROM lc ORDER BY k, seq) =
	   ARRAY(SELECT seq FROM hc ORDER BY k, seq) AS same_order;
SELECT ARRAY(SELECT seq FROM lc WHERE k > 'a' ORDER BY seq) =
	   ARRAY(SELECT seq FROM hc WHERE k > 'a' ORDER BY seq) AS same_range;
-- the index on the key, rebuilt by the ALTER under the new collation
SET enable_seqscan = off;
SELECT * FROM lc WHERE k = 'b' ORDER BY seq;
RESET enable_seqscan;
-- updates and deletes; new versions are encoded under "C" bytes too
UPDATE hc SET k = 'c' WHERE seq IN (1, 13);
UPDATE lc SET k = 'c' WHERE seq IN (1, 13);
UPDATE hc SET k = NULL WHERE k = 'A';
UPDATE lc SET k = NULL WHERE k = 'A';
DELETE FROM hc WHERE k = 'é' OR seq = 7;
DELETE FROM lc WHERE k = 'é' OR seq = 7;
COPY lc FROM stdin;
Ä	14
d	15
\.
INSERT INTO hc VALUES ('Ä', 14), ('d', 15);
CALL flush('lc');
SELECT * FROM lc;
SELECT scan_order_is('lc', 'hc', 'k COLLATE "C"');
SELECT same_rows('hc', 'lc');
-- back to "C": the stored order is that collation's order again
SELECT pg_relation_filenode('lc') AS fn \gset
ALTER TABLE hc ALTER COLUMN k TYPE text COLLATE "C";
ALTER TABLE lc ALTER COLUMN k TYPE text COLLATE "C";
SELECT pg_relation_filenode('lc') = :fn AS same_storage;
INSERT INTO hc VALUES ('a', 16);
INSERT INTO lc VALUES ('a', 16);
SELECT scan_order_is('lc', 'hc', 'k');
SELECT same_rows('hc', 'lc');

-- ------------------------------------------------------------------------
-- A table made under a linguistic collation has no encoder (row-id order),
-- and keeps it when the collation becomes "C"; TRUNCATE formats a new
-- relfilenode under the collation of the day.
-- ------------------------------------------------------------------------
CREATE TABLE hi (k text COLLATE "und-x-icu", seq int) USING heap;
CREATE TABLE li (k text COLLATE "und-x-icu", seq int) USING lsm;
INSERT INTO hi VALUES ('b', 1), ('a', 2), (NULL, 3), ('c', 4);
INSERT INTO li SELECT * FROM hi ORDER BY seq;
SELECT pg_relation_filenode('li') AS fn \gset
ALTER TABLE hi ALTER COLUMN k TYPE text COLLATE "C";
ALTER TABLE li ALTER COLUMN k TYPE text COLLATE "C";
SELECT pg_relation_filenode('li') = :fn AS same_storage;
INSERT INTO hi VALUES ('a0', 5), ('A', 6);
INSERT INTO li VALUES ('a0', 5), ('A', 6);
-- insertion order
SELECT * FROM li;
SELECT same_rows('hi', 'li');
TRUNCATE hi, li;
INSERT INTO hi VALUES ('b', 1), ('a', 2), (NULL, 3), ('c', 4), ('a0', 5), ('A', 6);
INSERT INTO li SELECT * FROM hi ORDER BY seq;
-- now in "C" order
SELECT * FROM li;
SELECT scan_order_is('li', 'hi', 'k');

-- ------------------------------------------------------------------------
-- DROP COLUMN of the key column (no rewrite): old rows keep their keys,
-- new rows and new versions get a NULL key, after every value.
-- ------------------------------------------------------------------------
CREATE TABLE hd (k int, seq int, v text) USING heap;
CREATE TABLE ld (k int, seq int, v text) USING lsm;
INSERT INTO hd VALUES (3, 1, 'x'), (1, 2, 'y'), (NULL, 3, 'z'), (2, 4, 'w'),
	(1, 5, 'v');
INSERT INTO ld SELECT * FROM hd ORDER BY seq;
CALL flush('ld');
SELECT scan_order_is('ld', 'hd', 'k');
SELECT pg_relation_filenode('ld') AS fn \gset
ALTER TABLE hd DROP COLUMN k;
ALTER TABLE ld DROP COLUMN k;
SELECT pg_relation_filenode('ld') = :fn AS same_storage;
INSERT INTO hd VALUES (6, 'u'), (7, 't');
INSERT INTO ld VALUES (6, 'u'), (7, 't');
-- old rows in the old key order (k = 1, 1, 2, 3, NULL), then the new ones
SELECT * FROM ld;
SELECT same_rows('hd', 'ld');
-- new versions go after every keyed row, in row-id (update) order
UPDATE hd SET v = v || '!' WHERE seq IN (1, 6);
UPDATE ld SET v = v || '!' WHERE seq IN (1, 6);
DELETE FROM hd WHERE seq IN (2, 7);
DELETE FROM ld WHERE seq IN (2, 7);
COPY ld FROM stdin;
8	s
9	r
\.
INSERT INTO hd VALUES (8, 's'), (9, 'r');
SELECT * FROM ld;
SELECT same_rows('hd', 'ld');
CALL flush('ld');
SELECT * FROM ld WHERE seq > 3;
SELECT * FROM ld FOR UPDATE;
SELECT same_rows('hd', 'ld');
-- a column added later is not the key
ALTER TABLE hd ADD COLUMN k int;
ALTER TABLE ld ADD COLUMN k int;
INSERT INTO hd VALUES (10, 'q', 0);
INSERT INTO ld VALUES (10, 'q', 0);
SELECT * FROM ld;
SELECT same_rows('hd', 'ld');
-- TRUNCATE: the first column is dropped, so no encoder (row-id order)
TRUNCATE hd, ld;
INSERT INTO hd VALUES (3, 'c', 1), (1, 'a', 3), (2, 'b', 2);
INSERT INTO ld VALUES (3, 'c', 1), (1, 'a', 3), (2, 'b', 2);
SELECT * FROM ld;
SELECT same_rows('hd', 'ld');

-- ------------------------------------------------------------------------
-- Binary-coercible type changes (no rewrite): varchar(3) -> varchar(10) ->
-- text -> bpchar.  The stored encoder stays text's, which counts trailing
-- spaces; bpchar's = ignores them, on lsm as on heap.  bpchar -> text
-- (rtrim) rewrites, and the rows are re-encoded.
-- ------------------------------------------------------------------------
CREATE TABLE hv (k varchar(3) COLLATE "C", seq int) USING heap;
CREATE TABLE lv (k varchar(3) COLLATE "C", seq int) USING lsm;
INSERT INTO hv VALUES ('bb', 1), ('a', 2), ('a ', 3), (NULL, 4), ('ab', 5);
INSERT INTO lv SELECT * FROM hv ORDER BY seq;
CALL flush('lv');
SELECT pg_relation_filenode('lv') AS fn \gset
ALTER TABLE hv ALTER COLUMN k TYPE varchar(10);
ALTER TABLE lv ALTER COLUMN k TYPE varchar(10);
SELECT pg_relation_filenode('lv') = :fn AS same_storage;
INSERT INTO hv VALUES ('abcdefg', 6), ('b', 7);
INSERT INTO lv VALUES ('abcdefg', 6), ('b', 7);
ALTER TABLE hv ALTER COLUMN k TYPE text;
ALTER TABLE lv ALTER COLUMN k TYPE text;
SELECT pg_relation_filenode('lv') = :fn AS same_storage;
INSERT INTO hv VALUES ('a  ', 8), ('aa', 9);
INSERT INTO lv VALUES ('a  ', 8), ('aa', 9);
CALL flush('lv');
ALTER TABLE hv ALTER COLUMN k TYPE bpchar;
ALTER TABLE lv ALTER COLUMN k TYPE bpchar;
SELECT pg_relation_filenode('lv') = :fn AS same_storage;
INSERT INTO hv VALUES ('a', 10), ('a   ', 11);
INSERT INTO lv VALUES ('a', 10), ('a   ', 11);
-- byte order with trailing spaces: 'a' < 'a ' < 'a  ' < 'a   ' < 'aa'
-- (bpcharout keeps them; a cast to text would strip them)
SELECT k, octet_length(k) AS bytes, seq FROM lv;
SELECT scan_order_is('lv', 'hv', 'textin(bpcharout(k)) COLLATE "C"');
SELECT same_rows('hv', 'lv');
SELECT seq FROM lv WHERE k = 'a' ORDER BY seq;
SELECT ARRAY(SELECT seq FROM lv WHERE k = 'a  ' ORDER BY seq) =
	   ARRAY(SELECT seq FROM hv WHERE k = 'a  ' ORDER BY seq) AS same_equal,
	   ARRAY(SELECT seq FROM lv ORDER BY k, seq) =
	   ARRAY(SELECT seq FROM hv ORDER BY k, seq) AS same_order;
UPDATE hv SET k = 'b ' WHERE seq = 2;
UPDATE lv SET k = 'b ' WHERE seq = 2;
SELECT scan_order_is('lv', 'hv', 'textin(bpcharout(k)) COLLATE "C"');
SELECT same_rows('hv', 'lv');
-- bpchar -> text: a rewrite (rtrim), re-encoded
SELECT pg_relation_filenode('lv') AS fn \gset
ALTER TABLE hv ALTER COLUMN k TYPE text;
ALTER TABLE lv ALTER COLUMN k TYPE text;
SELECT pg_relation_filenode('lv') = :fn AS same_storage;
SELECT k, octet_length(k) AS bytes, seq FROM lv;
SELECT scan_order_is('lv', 'hv', 'k');
SELECT same_rows('hv', 'lv');

-- ------------------------------------------------------------------------
-- bigint -> numeric: a rewrite; the rows are re-encoded with the numeric
-- encoder (in the old scan order, so equal keys keep their order).
-- ------------------------------------------------------------------------
CREATE TABLE hb (k bigint, seq int) USING heap;
CREATE TABLE lb (k bigint, seq int) USING lsm;
INSERT INTO hb VALUES (10, 1), (-5, 2), (3, 3), (NULL, 4),
	(9223372036854775807, 5), (-9223372036854775808, 6), (3, 7);
INSERT INTO lb SELECT * FROM hb ORDER BY seq;
CALL flush('lb');
SELECT pg_relation_filenode('lb') AS fn \gset
ALTER TABLE hb ALTER COLUMN k TYPE numeric;
ALTER TABLE lb ALTER COLUMN k TYPE numeric;
SELECT pg_relation_filenode('lb') = :fn AS same_storage;
INSERT INTO hb VALUES (3.5, 8), (-5.25, 9), (1e30, 10), ('NaN', 11),
	(-0.001, 12), (3.0, 13);
INSERT INTO lb SELECT * FROM hb WHERE seq > 7 ORDER BY seq;
SELECT * FROM lb;
SELECT scan_order_is('lb', 'hb', 'k');
SELECT same_rows('hb', 'lb');

-- ------------------------------------------------------------------------
-- timestamp -> timestamptz under UTC skips the rewrite: both encode the
-- same microseconds, so the order holds.
-- ------------------------------------------------------------------------
SET TimeZone = 'UTC';
CREATE TABLE ht (k timestamp, seq int) USING heap;
CREATE TABLE lt (k timestamp, seq int) USING lsm;
INSERT INTO ht VALUES ('2020-01-02', 1), ('2019-05-05', 2), ('infinity', 3);
INSERT INTO lt SELECT * FROM ht ORDER BY seq;
SELECT pg_relation_filenode('lt') AS fn \gset
ALTER TABLE ht ALTER COLUMN k TYPE timestamptz;
ALTER TABLE lt ALTER COLUMN k TYPE timestamptz;
SELECT pg_relation_filenode('lt') = :fn AS same_storage;
INSERT INTO ht VALUES ('2019-12-31 23:00:00+00', 4), ('2020-01-01 12:00:00-05', 5);
INSERT INTO lt VALUES ('2019-12-31 23:00:00+00', 4), ('2020-01-01 12:00:00-05', 5);
SELECT * FROM lt;
SELECT scan_order_is('lt', 'ht', 'k');
SELECT same_rows('ht', 'lt');
RESET TimeZone;

DROP TABLE hc, lc, hi, li, hd, ld, hv, lv, hb, lb, ht, lt;
DROP FUNCTION scan_order_is(regclass, regclass, text);
DROP PROCEDURE flush(regclass);
DROP EXTENSION lsm_am;
