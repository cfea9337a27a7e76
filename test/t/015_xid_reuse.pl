# A transaction id must never be handed out twice.  After a crash, recovery
# hands out ids from just past the highest one it finds in the WAL.  An lsm
# writer keeps its log records in the backend until commit, and a flush by
# another process writes its uncommitted entries into a run; unless the
# writer's id reached the WAL some other way, recovery could give that id to
# a new transaction, whose commit would make the dead transaction's rows
# visible.  lsm_tree.c covers each new id with a WAL record before its first
# entry goes into a memtable.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('xid_reuse');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
checkpoint_timeout = '1h'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k int, v text) USING lsm;
	-- reserves a batch of row ids (a WAL record of this transaction), so
	-- that the writer below writes nothing to the WAL itself
	INSERT INTO t VALUES (1000, 'first');
	CHECKPOINT;
});

# A transaction writes rows (their log records stay in its backend), then
# its entries are flushed into a run by another session; then a crash.
my $writer = $node->background_psql('postgres');
$writer->query_safe(q{BEGIN; INSERT INTO t SELECT g, 'dead' FROM generate_series(1, 100) g;});
my $dead_xid = $writer->query_safe('SELECT txid_current()');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_xid::text::bigint = $dead_xid"), '1',
	'the writer has its id');
$node->safe_psql('postgres', q{SELECT lsm_flush('t')});
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v = 'dead'"), '0',
	'the uncommitted rows are invisible before the crash');
$node->stop('immediate');
$writer->quit;
$node->start;

# New transactions that commit, some with subtransactions.
my @xids;
for my $i (1 .. 5)
{
	push @xids, $node->safe_psql('postgres', 'SELECT txid_current()');
}
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO t VALUES (0, 'live');
	SAVEPOINT a;
	INSERT INTO t VALUES (-1, 'live');
	RELEASE a;
	COMMIT;
});
cmp_ok($xids[0], '>', $dead_xid,
	"after the crash new transactions get ids past the dead one's ($dead_xid)");
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v = 'dead'"), '0',
	"the dead transaction's rows stay invisible after new transactions commit");
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v = 'live'"), '2',
	'the new rows are there');

# The same with the id of a subtransaction, newer than its parent's.
$writer = $node->background_psql('postgres');
$writer->query_safe(q{BEGIN; SELECT txid_current(); SAVEPOINT s;
	INSERT INTO t SELECT g, 'dead sub' FROM generate_series(1, 100) g;});
$node->safe_psql('postgres', 'CHECKPOINT');
$writer->query_safe(q{SAVEPOINT s2; INSERT INTO t SELECT g, 'dead sub2' FROM generate_series(1, 100) g;});
$node->safe_psql('postgres', q{SELECT lsm_flush('t')});
$node->stop('immediate');
$writer->quit;
$node->start;
for my $i (1 .. 10)
{
	$node->safe_psql('postgres', "BEGIN; INSERT INTO t VALUES ($i, 'later'); SAVEPOINT x; INSERT INTO t VALUES (-$i, 'later'); COMMIT;");
}
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v LIKE 'dead%'"), '0',
	"a dead subtransaction's rows stay invisible after new transactions commit");
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v = 'later'"), '20',
	'the later rows are there');

$node->stop;
done_testing();
