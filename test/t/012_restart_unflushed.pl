# Restarts, clean and immediate, of a server whose lsm table lives only in
# its memtable and log (never flushed): the memtable is rebuilt from the log
# pages on first use, with inserts, updates, deletes, rolled-back
# transactions and savepoints, a transaction in progress at the restart, and
# prepared transactions that outlive it.  Every change is mirrored into a
# heap table in the same transaction; after each restart the two must hold
# the same rows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# LSM_TEST_AM=heap runs the same test on heap tables (to test the test).
my $am = $ENV{LSM_TEST_AM} || 'lsm';
my $is_lsm = $am eq 'lsm';

my $node = PostgreSQL::Test::Cluster->new('unflushed');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
max_prepared_transactions = 5
# a memtable large enough that nothing is flushed until the test says so
lsm.memtable_size = 128MB
lsm.memtable_pool_size = 512MB
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k int, id int, v text) USING $am;
	CREATE TABLE h (k int, id int, v text) USING heap;
});

# Runs SQL in which @T stands for the table, once for t and once for h, in
# one transaction (unless the SQL has its own transaction control).
sub both
{
	my ($sql) = @_;
	my $t = $sql =~ s/\@T/t/gr;
	my $h = $sql =~ s/\@T/h/gr;
	return $node->safe_psql('postgres', "$t\n$h");
}

sub check
{
	my ($what) = @_;
	my $res = $node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM t) || ' ' || (SELECT count(*) FROM h) || ' '
			|| (SELECT count(*) FROM (TABLE t EXCEPT ALL TABLE h) d) || ' '
			|| (SELECT count(*) FROM (TABLE h EXCEPT ALL TABLE t) d)});
	my ($nt, $nh, $d1, $d2) = split / /, $res;
	ok($nt == $nh && $d1 == 0 && $d2 == 0, "$what: the lsm table holds exactly the heap table's rows")
	  or diag("lsm $nt rows, heap $nh, $d1 only in lsm, $d2 only in heap");
	return $nt;
}

# Changes of every kind, committed and not.
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO t SELECT g % 1000, g, 'first ' || g FROM generate_series(1, 20000) g;
	INSERT INTO h SELECT g % 1000, g, 'first ' || g FROM generate_series(1, 20000) g;
	COMMIT;
	BEGIN;
	UPDATE t SET v = v || ' updated' WHERE k < 100;
	UPDATE h SET v = v || ' updated' WHERE k < 100;
	UPDATE t SET k = k + 5000 WHERE id % 7 = 0;
	UPDATE h SET k = k + 5000 WHERE id % 7 = 0;
	DELETE FROM t WHERE k BETWEEN 500 AND 599;
	DELETE FROM h WHERE k BETWEEN 500 AND 599;
	COMMIT;
	BEGIN;
	INSERT INTO t SELECT g, g, 'rolled back' FROM generate_series(1, 1000) g;
	UPDATE t SET v = 'rolled back' WHERE k < 200;
	DELETE FROM t WHERE k >= 200;
	ROLLBACK;
	BEGIN;
	INSERT INTO t VALUES (-1, -1, 'kept');
	INSERT INTO h VALUES (-1, -1, 'kept');
	SAVEPOINT a;
	INSERT INTO t VALUES (-2, -2, 'rolled back to a');
	DELETE FROM t WHERE k = 1;
	SAVEPOINT b;
	UPDATE t SET v = 'rolled back to a' WHERE k = 2;
	RELEASE b;
	ROLLBACK TO a;
	UPDATE t SET v = 'after a' WHERE k = 3;
	UPDATE h SET v = 'after a' WHERE k = 3;
	COMMIT;
});
# The same row updated many times, and a key inserted and deleted many times.
$node->safe_psql('postgres', q{
	DO $$
	BEGIN
		FOR i IN 1..300 LOOP
			UPDATE t SET v = 'version ' || i WHERE id = 42;
			UPDATE h SET v = 'version ' || i WHERE id = 42;
			INSERT INTO t VALUES (777777, i, 'churn');
			INSERT INTO h VALUES (777777, i, 'churn');
			DELETE FROM t WHERE k = 777777 AND id < i;
			DELETE FROM h WHERE k = 777777 AND id < i;
		END LOOP;
	END $$;
});
my $n = check('before any restart');
cmp_ok($n, '>', 15000, "$n rows");

# A transaction in progress when the server stops, and a prepared one.
my $open = $node->background_psql('postgres');
$open->query_safe(q{
	BEGIN;
	INSERT INTO t SELECT g, g, 'in progress' FROM generate_series(1, 500) g;
	INSERT INTO h SELECT g, g, 'in progress' FROM generate_series(1, 500) g;
	UPDATE t SET v = 'in progress' WHERE k = 4;
	UPDATE h SET v = 'in progress' WHERE k = 4;
	DELETE FROM t WHERE k = 5;
	DELETE FROM h WHERE k = 5;
});
both(q{
	BEGIN;
	INSERT INTO @T SELECT g, -g, 'prepared 1' FROM generate_series(10001, 10100) g;
	UPDATE @T SET v = 'prepared 1' WHERE k = 6;
	DELETE FROM @T WHERE k = 7;
	PREPARE TRANSACTION 'p1_@T';
});

# Clean restart.
$node->restart;
$open->quit;
check('after a clean restart');
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v IN ('in progress', 'rolled back', 'rolled back to a')"),
	'0', 'no row of an aborted transaction or savepoint');
is($node->safe_psql('postgres', "SELECT v FROM t WHERE id = 42"), 'version 300', 'the newest version of a row updated 300 times');
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE k = 777777"), '1', 'a key inserted and deleted 300 times');
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v = 'prepared 1'"), '0',
	'the prepared transaction is not visible yet');
$node->safe_psql('postgres', "COMMIT PREPARED 'p1_t'; COMMIT PREPARED 'p1_h';");
check('after COMMIT PREPARED');
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v = 'prepared 1' AND id < 0"), '100',
	'the prepared transaction committed after the restart');
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE k = 7"), '0',
	'and its delete too');

# More changes, another prepared transaction, then an immediate stop.
both(q{
	INSERT INTO @T SELECT g % 100, 30000 + g, 'second ' || g FROM generate_series(1, 5000) g;
	UPDATE @T SET v = 'second update' WHERE id % 13 = 0;
	DELETE FROM @T WHERE id % 17 = 0;
});
both(q{
	BEGIN;
	INSERT INTO @T VALUES (20000, 20000, 'prepared 2');
	DELETE FROM @T WHERE k = 8;
	PREPARE TRANSACTION 'p2_@T';
});
$open = $node->background_psql('postgres');
$open->query_safe(q{
	BEGIN;
	INSERT INTO t SELECT g, g, 'in progress' FROM generate_series(1, 500) g;
	DELETE FROM t WHERE k = 9;
});
$node->stop('immediate');
$open->quit;
$node->start;
check('after an immediate stop');
$node->safe_psql('postgres', "ROLLBACK PREPARED 'p2_t'; ROLLBACK PREPARED 'p2_h';");
check('after ROLLBACK PREPARED');
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v IN ('prepared 2', 'in progress')"), '0',
	'no row of the rolled-back prepared transaction or of the one in progress');

# Immediate stops in a row, with changes in between, and one with none.
for my $i (1 .. 3)
{
	both(qq{
		INSERT INTO \@T SELECT g, 40000 + $i * 1000 + g, 'round $i' FROM generate_series(1, 300) g;
		UPDATE \@T SET k = k + 1 WHERE k BETWEEN 10 AND 20;
		DELETE FROM \@T WHERE id % 101 = $i;
	});
	$node->stop('immediate');
	$node->start;
	check("after immediate stop $i");
}
$node->stop('immediate');
$node->start;
check('after an immediate stop with no change since the last one');

# Finally flush it, and restart once more.
if ($is_lsm)
{
	$node->safe_psql('postgres', "SELECT lsm_flush('t')");
}
check('after a flush');
$node->stop('immediate');
$node->start;
check('after the flush and an immediate stop');
both(q{ INSERT INTO @T VALUES (-3, -3, 'after the flush'); });
$node->restart;
check('after a last clean restart');

$node->stop;
done_testing();
