-- lsm_verify(): a healthy table has no problem, whatever its shape.
CREATE EXTENSION lsm_am;

CREATE TABLE vt (k int, v text) USING lsm;

-- empty: only the metapage and the first log page
SELECT * FROM lsm_verify('vt');

-- rows in the memtable and the log only
INSERT INTO vt SELECT g, repeat('v', g % 50) FROM generate_series(1, 3000) g;
SELECT * FROM lsm_verify('vt');

-- level-0 runs, with deletes and updates in between, then a full compaction
SELECT lsm_flush('vt');
DELETE FROM vt WHERE k % 3 = 0;
UPDATE vt SET v = 'updated' WHERE k % 5 = 0;
SELECT lsm_flush('vt');
INSERT INTO vt SELECT g, 'second' FROM generate_series(3001, 6000) g;
SELECT lsm_flush('vt');
SELECT * FROM lsm_verify('vt');
SELECT lsm_compact('vt');
SELECT level, runs FROM lsm_levels('vt');
SELECT * FROM lsm_verify('vt');

-- runs in two levels and rows still in the memtable
INSERT INTO vt SELECT g, 'third' FROM generate_series(6001, 7000) g;
SELECT lsm_flush('vt');
INSERT INTO vt SELECT g, 'fourth' FROM generate_series(7001, 7100) g;
SELECT level, runs FROM lsm_levels('vt');
SELECT * FROM lsm_verify('vt');
SELECT count(*), sum(k) FROM vt;

-- inside a transaction that wrote to the table, and with an open cursor
BEGIN;
INSERT INTO vt VALUES (-1, 'in a transaction');
DECLARE c CURSOR FOR SELECT k FROM vt;
FETCH 2 FROM c;
SELECT * FROM lsm_verify('vt');
COMMIT;

-- a table with keys in row-id order, and an unlogged table
CREATE TABLE vt_rowid (p point, n int) USING lsm;
INSERT INTO vt_rowid SELECT point(g, g), g FROM generate_series(1, 500) g;
SELECT lsm_flush('vt_rowid');
SELECT * FROM lsm_verify('vt_rowid');
CREATE UNLOGGED TABLE vt_unlogged (k bigint) USING lsm;
INSERT INTO vt_unlogged SELECT generate_series(1, 500);
SELECT lsm_flush('vt_unlogged');
SELECT * FROM lsm_verify('vt_unlogged');

-- TRUNCATE: fresh storage, nothing wrong with it either
TRUNCATE vt;
SELECT * FROM lsm_verify('vt');

-- not an lsm table; NULL; only the owner may verify
CREATE TABLE vt_heap (k int);
SELECT * FROM lsm_verify('vt_heap');
SELECT * FROM lsm_verify(NULL);
CREATE ROLE regress_lsm_verifier;
GRANT SELECT ON vt TO regress_lsm_verifier;
SET ROLE regress_lsm_verifier;
SELECT * FROM lsm_verify('vt');
RESET ROLE;

DROP TABLE vt, vt_rowid, vt_unlogged, vt_heap;
DROP ROLE regress_lsm_verifier;
DROP EXTENSION lsm_am;
