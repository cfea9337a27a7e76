# Crash in the middle of a multi-session insert load into an lsm table.
#
# Four psql sessions run transactions of 1 to 5 rows each (every 7th rolls
# back), inserting the same rows into an lsm table and into a heap table, and
# print an acknowledgement after each COMMIT returns.  In the middle of the
# load the server crashes; after recovery:
#   - every transaction whose COMMIT had returned is there, with all its rows;
#   - no row of a rolled-back transaction, or of a transaction that had not
#     reached its COMMIT, is there;
#   - each session's transaction whose COMMIT was in flight is there
#     entirely or not at all;
#   - the lsm table holds exactly the rows of the heap table.
# Three rounds on the same table: all server processes killed with SIGKILL
# at once (postmaster and backends: a power cut, except that the OS keeps
# what was written), an immediate shutdown, and SIGKILL again.  Between rounds
# the table keeps working: a flush, and a clean restart.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use LsmCrash qw(kill9_all redo_check run_script found_transactions);
use Time::HiRes qw(usleep);

# LSM_TEST_AM=heap runs the same test on heap tables (to test the test).
my $am = $ENV{LSM_TEST_AM} || 'lsm';
my $is_lsm = $am eq 'lsm';

my $sessions = 4;
my $txns_per_session = 50000;    # more than the load gets through before the crash

my $node = PostgreSQL::Test::Cluster->new('crash_load');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
max_connections = 30
# small memtables: the load fills and flushes several before the crash
lsm.memtable_size = 1MB
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k bigint, round int, session int, txn int, pad text) USING $am;
	CREATE TABLE h (k bigint, round int, session int, txn int, pad text) USING heap;
});

sub flush_sql
{
	return $is_lsm ? "SELECT lsm_flush('t')" : "SELECT 1";
}

# The script of one session in one round.
sub session_script
{
	my ($round, $s) = @_;
	my $file = $node->basedir . "/load_${round}_$s.sql";
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	for my $j (1 .. $txns_per_session)
	{
		my $rows = 1 + ($j * 7 + $s) % 5;
		my @vals;
		for my $r (1 .. $rows)
		{
			# distinct keys, scattered over the key space
			my $id = (($round * 16 + $s) * 1_000_000 + $j) * 8 + $r;
			my $k = (($id * 2654435761) % 4294967291) * 1_000_000_000 + $id % 1_000_000_000;
			push @vals, "($k, $round, $s, $j, repeat(md5('$id'), " . (1 + $id % 4) . "))";
		}
		my $values = join(', ', @vals);
		my $end = ($j % 7 == 0) ? 'ROLLBACK' : 'COMMIT';
		print $fh "BEGIN;\n"
		  . "INSERT INTO t VALUES $values;\n"
		  . "INSERT INTO h VALUES $values;\n"
		  . "$end;\n"
		  . "\\echo $end $s $j $rows\n";
	}
	close($fh);
	return $file;
}

sub start_load
{
	my ($round) = @_;
	my @load;
	for my $s (1 .. $sessions)
	{
		push @load, run_script($node, session_script($round, $s), $s);
	}
	return @load;
}

my $last_count = 0;
for my $round (1 .. 3)
{
	my @load = start_load($round);

	# Let the load run until a good number of transactions committed, then
	# crash.
	my $deadline = time + 180;
	while (time < $deadline)
	{
		my $n = $node->safe_psql('postgres', "SELECT count(*) FROM h WHERE round = $round");
		last if $n >= 30000;
		usleep(100_000);
	}
	if ($round == 2)
	{
		$node->stop('immediate');
	}
	else
	{
		kill9_all($node);
	}

	# What the clients saw.
	my %committed;    # "s j" => rows, for transactions whose COMMIT returned
	my %rolled_back;
	my %last;         # s => last transaction that ended
	my %expected_rows;    # "s j" => rows, for every transaction in the scripts
	for my $l (@load)
	{
		$l->{h}->finish;
		my $s = $l->{s};
		$last{$s} = 0;
		for my $line (split /\n/, ${ $l->{out} })
		{
			next unless $line =~ /^(COMMIT|ROLLBACK) (\d+) (\d+) (\d+)$/;
			if ($1 eq 'COMMIT') { $committed{"$2 $3"} = $4; }
			else { $rolled_back{"$2 $3"} = 1; }
			$last{$2} = $3;
		}
		like(${ $l->{err} },
			qr/server closed the connection|terminating connection|connection to server was lost|no connection to the server|could not connect/,
			"round $round, session $s: the crash ended the load");
		for my $j (1 .. $last{$s} + 1)
		{
			$expected_rows{"$s $j"} = 1 + ($j * 7 + $s) % 5 unless $j % 7 == 0;
		}
	}
	my $n_committed = scalar(keys %committed);
	cmp_ok($n_committed, '>', 200, "round $round: $n_committed transactions committed before the crash");

	$node->start;
	is(redo_check($node), '', 'after crash recovery: every named page exists');

	my %found = found_transactions($node, "round = $round");
	my (@missing, @partial, @uncommitted, @unknown);
	for my $tx (sort keys %committed)
	{
		push @missing, $tx unless defined $found{$tx};
		push @partial, $tx if defined $found{$tx} && $found{$tx} != $committed{$tx};
	}
	my $in_flight_present = 0;
	for my $tx (sort keys %found)
	{
		my ($s, $j) = split / /, $tx;
		next if $committed{$tx};
		if ($rolled_back{$tx} || !defined $expected_rows{$tx})
		{
			push @uncommitted, $tx;
		}
		elsif ($found{$tx} != $expected_rows{$tx})
		{
			push @partial, $tx;    # the in-flight one, but not whole
		}
		else
		{
			$in_flight_present++;
		}
	}
	is(scalar(@missing), 0, "round $round: every committed transaction is there")
	  or diag("missing: @missing[0 .. ($#missing < 9 ? $#missing : 9)]");
	is(scalar(@partial), 0, "round $round: no transaction is there in part")
	  or diag("partial: @partial[0 .. ($#partial < 9 ? $#partial : 9)]");
	is(scalar(@uncommitted), 0, "round $round: no uncommitted transaction is there")
	  or diag("uncommitted: @uncommitted[0 .. ($#uncommitted < 9 ? $#uncommitted : 9)]");
	note "round $round: $in_flight_present transactions whose COMMIT was in flight made it";

	# The lsm table and its heap twin hold the same rows.
	is($node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM t) = (SELECT count(*) FROM h)
		   AND NOT EXISTS (TABLE t EXCEPT ALL TABLE h)
		   AND NOT EXISTS (TABLE h EXCEPT ALL TABLE t)}),
		't', "round $round: the lsm table holds exactly the heap table's rows");
	my $count = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
	cmp_ok($count, '>', $last_count, "round $round: $count rows in all");
	$last_count = $count;

	# Point lookups find the rows of a sample of committed transactions.
	my @sample = (sort keys %committed)[ map { $_ * 37 % $n_committed } 0 .. 19 ];
	my $ok = 1;
	for my $tx (@sample)
	{
		my ($s, $j) = split / /, $tx;
		my $n = $node->safe_psql('postgres', qq{
			SELECT count(*) FROM t WHERE k IN
				(SELECT k FROM h WHERE round = $round AND session = $s AND txn = $j)});
		$ok = 0 unless $n == $committed{$tx};
	}
	ok($ok, "round $round: lookups by key find committed rows");

	# The table keeps working: more rows, a flush, a clean restart.
	$node->safe_psql('postgres', qq{
		INSERT INTO t SELECT -g, $round, 0, g, 'after the crash' FROM generate_series(1, 100) g;
		INSERT INTO h SELECT -g, $round, 0, g, 'after the crash' FROM generate_series(1, 100) g;
	});
	$node->safe_psql('postgres', flush_sql());
	$node->restart;
	is($node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM t) = (SELECT count(*) FROM h)
		   AND NOT EXISTS (TABLE t EXCEPT ALL TABLE h)
		   AND NOT EXISTS (TABLE h EXCEPT ALL TABLE t)}),
		't', "round $round: same rows after more inserts, a flush and a clean restart");
	$last_count = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
}

$node->stop;
done_testing();
