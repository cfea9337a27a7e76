# The compaction worker must not hold back the xmin horizon while a steady
# load keeps it busy.  Under such a load the worker goes from one compaction
# step to the next without ending its transaction; a catalog snapshot kept
# across the steps pinned its xmin for as long as the load lasted, so no page
# compaction freed ever became reusable (the file grew by everything
# compaction wrote: 7.3 GB for 1.1 GB of runs after a minute of pgbench) and
# garbage collection could drop nothing.  Here two pgbench clients insert and
# delete for a while; the worker's xmin must stay young, the file must stay
# near the size of its runs, and compaction must collect the deleted rows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $seconds = 20;

my $node = PostgreSQL::Test::Cluster->new('worker_horizon');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 32MB
lsm.compaction_target_run_size = 1MB
# The file's size is checked against its runs: level 0 kept as small as
# before the default triggers rose to 20/36, so that its transient peak
# (freed pages not reusable until compaction ends) stays what it measures.
lsm.l0_slowdown_trigger = 8
lsm.l0_stop_trigger = 12
autovacuum = off
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k bigint, v text) USING lsm;
	INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
});

# Each transaction inserts 50 rows with random keys; one in five also
# deletes the rows of a random key range (dead versions for the collector).
my $script = $node->basedir . '/load.sql';
PostgreSQL::Test::Utils::append_to_file($script, q{
\set r random(1, 5)
INSERT INTO t SELECT (random() * 1e9)::bigint, md5(random()::text) FROM generate_series(1, 50);
\if :r = 1
\set lo random(1, 999000000)
DELETE FROM t WHERE k BETWEEN :lo AND :lo + 1000000;
\endif
});

my $xid0 = $node->safe_psql('postgres', 'SELECT txid_current()');
my ($out, $err) = ('', '');
my $bench = IPC::Run::start(
	[
		'pgbench', '-n', '-f', $script, '-c', 2, '-j', 2, '-T', $seconds,
		$node->connstr('postgres')
	],
	'>', \$out, '2>', \$err);

# The worker's xmin age, sampled during the load (NULL between steps).
my ($samples, $busy, $oldest) = (0, 0, 0);
my $end = time() + $seconds - 1;
while (time() < $end)
{
	my $age = $node->safe_psql('postgres', q{
		SELECT coalesce(max(age(backend_xmin)), -1) FROM pg_stat_activity
		 WHERE backend_type = 'lsm worker'});
	$samples++;
	if ($age >= 0)
	{
		$busy++;
		$oldest = $age if $age > $oldest;
	}
	usleep(200_000);
}
$bench->finish;
is($err =~ /error|abort/i ? $err : '', '', 'pgbench ran without errors');

my $xids = $node->safe_psql('postgres', 'SELECT txid_current()') - $xid0;
my $compactions = $node->safe_psql('postgres', q{SELECT compactions FROM lsm_stats('t')});
cmp_ok($compactions, '>=', 5, "the worker compacted during the load ($compactions compactions)");
note("worker xmin seen in $busy of $samples samples, oldest $oldest of $xids transactions");

# A pinned xmin ages with the load; one held only within a step stays young.
cmp_ok($oldest, '<', $xids / 4,
	"the worker's xmin never lagged far behind the load (oldest age $oldest, $xids xids used)");

# Let compaction finish, then the file against its runs.
ok($node->poll_query_until('postgres', q{
	SELECT compacting_pid IS NULL AND NOT compaction_requested FROM lsm_stats('t')}),
	'compaction settles after the load');
my ($file, $runs, $written) = split /\|/, $node->safe_psql('postgres', q{
	SELECT pg_relation_size('t'), run_bytes, bytes_flushed + bytes_compacted_written
	  FROM lsm_stats('t')});
note(sprintf('file %.1f MB, runs %.1f MB, written by flushes and compactions %.1f MB',
	$file / 1048576, $runs / 1048576, $written / 1048576));
cmp_ok($file, '<=', 2 * $runs + 8 * 1048576,
	'freed pages were reused: the file stays within 2x its runs (+8 MB)');

# The deletes' dead versions were collected by compactions during the load.
my $dropped = $node->safe_psql('postgres', q{SELECT gc_entries_dropped FROM lsm_stats('t')});
cmp_ok($dropped, '>', 0, "compaction collected dead versions during the load ($dropped entries)");

is($node->safe_psql('postgres', q{SELECT count(*) FROM lsm_verify('t')}), '0',
	'lsm_verify finds no problem');

$node->stop;
done_testing();
