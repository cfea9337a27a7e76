# Crash while a large memtable is being flushed to a run.
#
# The lsm table's memtable is filled with a few hundred thousand rows, then
# one session calls lsm_flush() on it while two others keep inserting (each
# transaction acknowledged on stdout after its COMMIT returns, and mirrored
# into a heap table).  Once the flush is running, every server process is
# killed with SIGKILL.  After recovery every committed row is there, no
# uncommitted one is, the lsm table holds exactly the heap table's rows, and
# the table keeps working: another flush, more rows, a clean restart.
# Three rounds, killing at different moments of the flush.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use LsmCrash qw(acknowledged crash_problems redo_check run_script crash_during
  found_transactions);
use Time::HiRes qw(usleep time);

# LSM_TEST_AM=heap runs the same test on heap tables (to test the test); a
# CHECKPOINT then stands in for the flush.
my $am = $ENV{LSM_TEST_AM} || 'lsm';
my $is_lsm = $am eq 'lsm';
my $flush_sql = $is_lsm ? "SELECT lsm_flush('t')" : "CHECKPOINT";

my $node = PostgreSQL::Test::Cluster->new('crash_flush');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
max_connections = 30
# a memtable that holds the 300,000 rows, so that lsm_flush() has much to write
lsm.memtable_size = 256MB
lsm.memtable_pool_size = 1GB
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k bigint, round int, session int, txn int, pad text) USING $am;
	CREATE TABLE h (k bigint, round int, session int, txn int, pad text) USING heap;
});

sub same_as_heap
{
	return $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM t) = (SELECT count(*) FROM h)
		   AND NOT EXISTS (TABLE t EXCEPT ALL TABLE h)
		   AND NOT EXISTS (TABLE h EXCEPT ALL TABLE t)});
}

sub rows_of
{
	my ($round, $s, $j) = @_;
	return 1 + ($j * 3 + $s) % 4;
}

# Transactions of 1 to 4 rows, every 5th rolled back, acknowledged after
# COMMIT.
sub start_session
{
	my ($round, $s) = @_;
	my $file = $node->basedir . "/load_${round}_$s.sql";
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	for my $j (1 .. 50000)
	{
		my @vals;
		for my $r (1 .. rows_of($round, $s, $j))
		{
			my $id = (($round * 16 + $s) * 1_000_000 + $j) * 8 + $r;
			my $k = (($id * 2654435761) % 4294967291) * 1_000_000_000 + $id % 1_000_000_000;
			push @vals, "($k, $round, $s, $j, md5('$id'))";
		}
		my $values = join(', ', @vals);
		my $end = ($j % 5 == 0) ? 'ROLLBACK' : 'COMMIT';
		print $fh "BEGIN;\nINSERT INTO t VALUES $values;\nINSERT INTO h VALUES $values;\n"
		  . "$end;\n\\echo $end $s $j\n";
	}
	close($fh);
	return run_script($node, $file, $s);
}

my @delays = (0, 0.05, 0.3);
for my $round (1 .. 3)
{
	# Fill the memtable: rows that are only in the memtable (and the log)
	# when the flush starts.
	$node->safe_psql('postgres', qq{
		INSERT INTO t SELECT (hashint8(g)::bigint << 23) + g, $round, 0, g, md5(g::text)
			FROM generate_series($round * 1000000, $round * 1000000 + 299999) g;
		INSERT INTO h SELECT * FROM t WHERE round = $round AND session = 0;
	});

	my @load = map { start_session($round, $_) } (1, 2);
	usleep(200_000);

	my $t0 = time;
	if (crash_during($node, $flush_sql, $flush_sql, $delays[ $round - 1 ]))
	{
		note sprintf('round %d: the flush finished before the crash (%.2fs)', $round, time - $t0);
	}
	else
	{
		note sprintf('round %d: crashed %.2fs into the flush', $round, time - $t0);
	}

	my ($committed, $last) = acknowledged(@load);
	cmp_ok(scalar(keys %$committed), '>', 0,
		"round $round: " . scalar(keys %$committed) . " transactions committed during the flush");

	$node->start;
	is(redo_check($node), '', 'after crash recovery: every named page exists');

	my %found = found_transactions($node, "round = $round AND session > 0");
	# every 5th transaction rolls back
	my @bad = crash_problems(\%found, $committed, $last,
		sub { rows_of($round, @_) }, sub { $_[1] % 5 != 0 });
	is(scalar(@bad), 0, "round $round: every committed transaction is there, and nothing else")
	  or diag(join(', ', @bad[0 .. ($#bad < 9 ? $#bad : 9)]));
	is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE round = $round AND session = 0"),
		'300000', "round $round: the rows of the memtable being flushed are there");
	is(same_as_heap(), 't', "round $round: the lsm table holds exactly the heap table's rows");

	# It keeps working: flush again (what the crashed flush wrote must not
	# get in the way), more rows, a clean restart.
	$node->safe_psql('postgres', $flush_sql);
	is(same_as_heap(), 't', "round $round: same rows after another flush");
	$node->safe_psql('postgres', qq{
		INSERT INTO t SELECT -g - $round * 1000, $round, -1, g, 'after' FROM generate_series(1, 1000) g;
		INSERT INTO h SELECT -g - $round * 1000, $round, -1, g, 'after' FROM generate_series(1, 1000) g;
		DELETE FROM t WHERE round = $round AND session = 0 AND txn % 10 = 0;
		DELETE FROM h WHERE round = $round AND session = 0 AND txn % 10 = 0;
	});
	$node->restart;
	is(same_as_heap(), 't', "round $round: same rows after more changes and a clean restart");
	is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE round = $round AND session = 0 AND txn BETWEEN $round * 1000000 AND $round * 1000000 + 99"),
		'90', "round $round: lookups after the restart");
}

$node->stop;
done_testing();
