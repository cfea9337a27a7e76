-- Logical decoding cannot read changes to lsm tables (their WAL is generic
-- WAL, which it skips), so a write that a publication would carry is refused
-- (SQLSTATE 0A000) instead of leaving subscribers silently behind.
CREATE EXTENSION lsm_am;
CREATE TABLE pub_l (k int PRIMARY KEY, v text) USING lsm;
INSERT INTO pub_l SELECT g, 'v' || g FROM generate_series(1, 10) g;

-- CREATE PUBLICATION warns when wal_level is not logical; not our concern.
SET client_min_messages = error;
CREATE PUBLICATION pub_all_actions FOR TABLE pub_l;
RESET client_min_messages;

\set VERBOSITY sqlstate
INSERT INTO pub_l VALUES (11, 'v11');
COPY pub_l FROM stdin;
12	v12
\.
INSERT INTO pub_l VALUES (1, 'x') ON CONFLICT (k) DO UPDATE SET v = 'x';
UPDATE pub_l SET v = 'w' WHERE k = 1;
DELETE FROM pub_l WHERE k = 2;
\set VERBOSITY default
-- the messages
INSERT INTO pub_l VALUES (11, 'v11');
UPDATE pub_l SET v = 'w' WHERE k = 1;
DELETE FROM pub_l WHERE k = 2;
-- nothing was written
SELECT count(*), sum(k), count(*) FILTER (WHERE v <> 'v' || k) AS changed FROM pub_l;

-- Only the actions the publication publishes are refused; reads, row locks
-- and TRUNCATE (which logical decoding does carry) work.
ALTER PUBLICATION pub_all_actions SET (publish = 'delete, truncate');
INSERT INTO pub_l VALUES (11, 'v11');
UPDATE pub_l SET v = 'w' WHERE k = 1;
SELECT k, v FROM pub_l WHERE k IN (1, 11) ORDER BY k FOR UPDATE;
\set VERBOSITY sqlstate
DELETE FROM pub_l WHERE k = 2;
\set VERBOSITY default
TRUNCATE pub_l;
SELECT count(*) FROM pub_l;

-- Out of the publication, every write works again.
ALTER PUBLICATION pub_all_actions DROP TABLE pub_l;
INSERT INTO pub_l VALUES (1, 'a'), (2, 'b');
UPDATE pub_l SET v = 'c' WHERE k = 1;
DELETE FROM pub_l WHERE k = 2;
SELECT k, v FROM pub_l ORDER BY k;

-- A publication of all tables covers lsm tables too.
SET client_min_messages = error;
CREATE PUBLICATION pub_every_table FOR ALL TABLES;
RESET client_min_messages;
\set VERBOSITY sqlstate
INSERT INTO pub_l VALUES (3, 'c');
\set VERBOSITY default
DROP PUBLICATION pub_every_table;

-- So does a publication of a schema's tables.
CREATE SCHEMA pub_schema;
CREATE TABLE pub_schema.l (k int, v text) USING lsm;
SET client_min_messages = error;
CREATE PUBLICATION pub_in_schema FOR TABLES IN SCHEMA pub_schema;
RESET client_min_messages;
INSERT INTO pub_schema.l VALUES (1, 'x');
DROP PUBLICATION pub_in_schema;
INSERT INTO pub_schema.l VALUES (1, 'x');
SELECT * FROM pub_schema.l;
DROP SCHEMA pub_schema CASCADE;

-- A partition is published through its published parent.
CREATE TABLE pub_parted (k int, v text) PARTITION BY RANGE (k);
CREATE TABLE pub_part_lsm PARTITION OF pub_parted FOR VALUES FROM (0) TO (100)
  USING lsm;
CREATE TABLE pub_part_heap PARTITION OF pub_parted
  FOR VALUES FROM (100) TO (200);
SET client_min_messages = error;
CREATE PUBLICATION pub_parent FOR TABLE pub_parted
  WITH (publish_via_partition_root = true);
RESET client_min_messages;
INSERT INTO pub_parted VALUES (150, 'heap partition');
INSERT INTO pub_parted VALUES (50, 'lsm partition');
SELECT tableoid::regclass, k, v FROM pub_parted ORDER BY k;
DROP PUBLICATION pub_parent;
INSERT INTO pub_parted VALUES (50, 'lsm partition');
SELECT tableoid::regclass, k, v FROM pub_parted ORDER BY k;

-- Unlogged tables are never published: writes work.
CREATE UNLOGGED TABLE pub_unlogged (k int, v text) USING lsm;
SET client_min_messages = error;
CREATE PUBLICATION pub_every_table FOR ALL TABLES;
RESET client_min_messages;
INSERT INTO pub_unlogged VALUES (1, 'u');
SELECT * FROM pub_unlogged;
DROP PUBLICATION pub_every_table;

DROP PUBLICATION pub_all_actions;
DROP TABLE pub_l, pub_parted, pub_unlogged;
DROP EXTENSION lsm_am;
