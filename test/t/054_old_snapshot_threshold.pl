# old_snapshot_threshold never makes VACUUM remove rows from an lsm table
# that an old snapshot still sees.
#
# With old_snapshot_threshold set (0: at once, for tests), VACUUM's removal
# horizon passes snapshots older than the threshold.  Heap removes rows such
# snapshots still see and its readers then fail with "snapshot too old"
# when they read a changed page; lsm readers have no page to test, so lsm
# VACUUM keeps every row a snapshot still sees.  A REPEATABLE READ
# transaction counts an lsm and a heap table, another session deletes half
# of each and vacuums them; the old snapshot then still counts every lsm
# row, and heap's answer is the error.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('old_snapshot');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
old_snapshot_threshold = 0
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k int, v text) USING lsm;
	CREATE TABLE h (k int, v text);
	INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;
	INSERT INTO h SELECT g, 'v' || g FROM generate_series(1, 1000) g;
	SELECT lsm_flush('t');
});

my $old = $node->background_psql('postgres', on_error_stop => 0);
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($old->query_safe('SELECT count(*) FROM t'), '1000', 'the old snapshot counts 1000 rows');
$old->query_safe('SELECT count(*) FROM h');

$node->safe_psql('postgres', 'DELETE FROM t WHERE k <= 500');
$node->safe_psql('postgres', 'DELETE FROM h WHERE k <= 500');
# At threshold 0 the horizon moves to the newest snapshot xmin seen, for
# snapshots over 5 s old: let the old one age, and newer xids come.
sleep(6);
$node->safe_psql('postgres', 'SELECT txid_current()');
$node->safe_psql('postgres', q{UPDATE t SET v = 'x' WHERE k = 1000});
$node->safe_psql('postgres', q{UPDATE h SET v = 'x' WHERE k = 1000});
$node->safe_psql('postgres', 'VACUUM t');
$node->safe_psql('postgres', 'VACUUM h');

is($old->query_safe('SELECT count(*), sum(k) FROM t'), '1000|500500',
	'after VACUUM, the old snapshot still sees every lsm row');
my $heap = $old->query('SELECT count(*) FROM h');
like($old->{stderr}, qr/snapshot too old/, 'heap gives "snapshot too old" instead')
  or diag "heap answered: $heap";
$old->query('ROLLBACK');
$old->quit;

is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '500', 'new snapshots see 500 rows');
$node->safe_psql('postgres', 'VACUUM t');
is($node->safe_psql('postgres',
		"SELECT gc_entries_dropped > 0 FROM lsm_stats('t')"), 't',
	'a VACUUM after the old snapshot ended removes the deleted rows');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '500', 'and 500 rows remain');

$node->stop;
done_testing();
