# Background compaction: the launcher starts a worker for a database whose
# lsm table has too many level-0 runs, and level 0 stays bounded under an
# insert load while the contents stay equal to a heap copy.  Then the server
# is stopped in immediate mode (no shutdown checkpoint: a crash as far as
# storage is concerned) during compactions, repeatedly, and the contents are
# checked after each recovery.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('bg_compaction');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 32MB
lsm.l0_compaction_trigger = 4
lsm.l0_slowdown_trigger = 8
lsm.l0_stop_trigger = 12
});
$node->start;

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'lsm launcher'"),
	'the launcher runs');

$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k int, pad text) USING lsm;
	CREATE TABLE h (k int, pad text);
});

sub same_as_heap
{
	my ($what) = @_;
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM ((SELECT * FROM t EXCEPT ALL SELECT * FROM h)
		  UNION ALL (SELECT * FROM h EXCEPT ALL SELECT * FROM t)) d}),
		'0', "lsm table equals heap copy $what");
}

# Batches that each fill a memtable or two: flushes make level-0 runs.
my $max_l0 = 0;
my $k = 0;
for my $batch (1 .. 40)
{
	my $lo = $k + 1;
	$k += 5000;
	$node->safe_psql('postgres', qq{
		INSERT INTO t SELECT g, repeat(md5(g::text), 2) FROM generate_series($lo, $k) g;
		INSERT INTO h SELECT g, repeat(md5(g::text), 2) FROM generate_series($lo, $k) g;
		UPDATE t SET pad = 'u' WHERE k % 101 = $batch;
		UPDATE h SET pad = 'u' WHERE k % 101 = $batch;
	});
	my $l0 = $node->safe_psql('postgres',
		"SELECT coalesce(max(runs), 0) FROM lsm_levels('t') WHERE level = 0");
	$max_l0 = $l0 if $l0 > $max_l0;
}
# Let the worker finish what the last flushes asked for.
my $l0;
for (1 .. 100)
{
	$l0 = $node->safe_psql('postgres',
		"SELECT coalesce(max(runs), 0) FROM lsm_levels('t') WHERE level = 0");
	last if $l0 < 4;
	usleep(100_000);
}
note "level-0 runs: at most $max_l0 during the load, $l0 at the end";
note $node->safe_psql('postgres', "SELECT * FROM lsm_levels('t')");
cmp_ok($l0, '<', 4, 'level 0 is compacted below the trigger');
cmp_ok($max_l0, '<=', 12, 'level 0 stayed bounded during the load');
cmp_ok($node->safe_psql('postgres',
	"SELECT count(*) FROM lsm_levels('t') WHERE level > 0"), '>=', 1,
	'runs reached deeper levels');
same_as_heap('after background compaction');

# Crashes during compaction.
for my $round (1 .. 4)
{
	my $lo = $k + 1;
	$k += 20000;
	$node->safe_psql('postgres', qq{
		INSERT INTO t SELECT g, repeat(md5(g::text), 2) FROM generate_series($lo, $k) g;
		INSERT INTO h SELECT g, repeat(md5(g::text), 2) FROM generate_series($lo, $k) g;
		SELECT lsm_flush('t');
	});
	# A full compaction in the background, killed after a while.
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_until(qr/started/, q{
		\echo started
		SELECT lsm_compact('t');
	});
	usleep(20_000 * $round);
	# Stands in for a crash: no shutdown checkpoint, recovery from WAL.
	$node->stop('immediate');
	{
		local $SIG{PIPE} = 'IGNORE';
		eval { $bg->quit; };
	}
	$node->start;
	same_as_heap("after crash $round");
}
$node->safe_psql('postgres', "SELECT lsm_flush('t'); SELECT lsm_compact('t')");
same_as_heap('after a final compaction');

$node->stop;
done_testing();
