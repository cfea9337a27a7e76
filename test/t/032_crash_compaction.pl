# SIGKILL of the postmaster during compaction under a concurrent insert
# load, six times over, at random instants.
#
# Small memtables and a level-0 trigger of 2 keep flushes and background
# compaction going all the time, and one more session runs lsm_compact() in
# a loop.  Three sessions insert in transactions of 1 to 5 rows (every
# seventh rolled back), each COMMIT acknowledged on stdout once it returned.
# Once a compaction is under way (lsm_stats().compacting_pid), and a random
# moment later, the postmaster alone is killed with SIGKILL (not an immediate
# shutdown): its children find it gone and exit, and those still running
# after ten seconds are killed too.  After each restart: every committed
# transaction of every round so far is there whole (its row count and the
# sum of its keys), none that rolled back is, a transaction whose COMMIT was
# in flight is there whole or not at all, the totals match, and lsm_verify()
# finds nothing wrong: no page leaked or owned twice, every run intact (and
# it finds nothing wrong while the load runs either).
use strict;
use warnings;

use Cwd qw(abs_path);
use FindBin;
use lib $FindBin::RealBin;
use LsmCrash qw(redo_check);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $rounds = 6;
my $sessions = 3;
my $txns_per_session = 20000;

my $node = PostgreSQL::Test::Cluster->new('crash_compaction');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
max_connections = 20
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 16MB
lsm.l0_compaction_trigger = 2
lsm.compaction_target_run_size = 256kB
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k bigint, round int, session int, txn int, pad text) USING lsm;
});
my $datadir = abs_path($node->data_dir);

# The server's processes: those whose working directory is the data
# directory (children of a dead postmaster have another parent).
sub server_pids
{
	my @pids;
	opendir(my $dh, '/proc') or die "cannot read /proc: $!";
	for my $p (grep { /^\d+$/ } readdir($dh))
	{
		my $cwd = readlink("/proc/$p/cwd");
		next unless defined $cwd && $cwd eq $datadir;
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close($fh);
		# zombies are gone as far as shared memory is concerned
		push @pids, $p if defined $stat && $stat !~ /\)\s+Z\s/;
	}
	closedir($dh);
	return @pids;
}

# SIGKILL to the postmaster; waits for its children to exit, and kills the
# ones still there after ten seconds.
sub kill9_postmaster
{
	my $pm = $node->{_pid};
	kill 'KILL', $pm;
	$node->{_pid} = undef;
	my $deadline = time + 10;
	my @left;
	while (@left = server_pids())
	{
		if (time > $deadline)
		{
			note 'SIGKILL to ' . scalar(@left) . ' children still running';
			kill 'KILL', @left;
			$deadline = time + 3600;
		}
		usleep(20_000);
	}
	# A postmaster left a zombie would make the next one refuse to start on
	# its lock files; after a real crash they are stale anyway.
	unlink("$datadir/postmaster.pid",
		$node->host . '/.s.PGSQL.' . $node->port . '.lock');
	return;
}

# The rows of transaction j of session s in a round, and what they add up to.
my %expected;    # "round s j" => [rows, sum of keys]
sub txn_rows
{
	my ($round, $s, $j) = @_;
	my $rows = 1 + ($j * 7 + $s) % 5;
	my (@vals, $sum);
	for my $r (1 .. $rows)
	{
		my $id = (($round * 16 + $s) * 1_000_000 + $j) * 8 + $r;
		# distinct keys (ids stay below the prime), scattered; their sums
		# stay within 64 bits
		my $k = ($id * 2654435761) % 4294967291 * 1000 + $id % 1000;
		$sum += $k;
		push @vals, "($k, $round, $s, $j, repeat('p', " . ($id * 31 % 300) . "))";
	}
	return (\@vals, $rows, $sum);
}

sub start_session
{
	my ($round, $s) = @_;
	my $file = $node->basedir . "/load_${round}_$s.sql";
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	for my $j (1 .. $txns_per_session)
	{
		my ($vals, $rows, $sum) = txn_rows($round, $s, $j);
		my $end = $j % 7 == 0 ? 'ROLLBACK' : 'COMMIT';
		$expected{"$round $s $j"} = [ $rows, $sum ] if $end eq 'COMMIT';
		print $fh "BEGIN;\nINSERT INTO t VALUES " . join(', ', @$vals) . ";\n$end;\n"
		  . "\\echo $end $s $j\n";
		# At most about a thousand transactions a second: the script
		# outlasts the round.
		print $fh "SELECT pg_sleep(0.01);\n" if $j % 10 == 0;
	}
	close($fh);
	# Output to files: a pipe nobody reads until the end would fill up and
	# stop the client.
	my ($out, $err) = ("$file.out", "$file.err");
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', $file ],
		'>', $out, '2>', $err);
	return { h => $h, out => $out, err => $err, s => $s };
}

sub start_compactor
{
	my $file = $node->basedir . '/compact.sql';
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	print $fh "SELECT lsm_compact('t');\nSELECT pg_sleep(0.02);\n" x 5000;
	close($fh);
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $file ],
		'>', "$file.out", '2>', "$file.err");
	return { h => $h };
}

my %committed;      # "round s j" of every acknowledged COMMIT so far
my %rolled_back;
# Different instants in each run; LSM_TEST_SEED repeats a run's.
my $seed = $ENV{LSM_TEST_SEED} // time;
srand($seed);
note "random seed $seed";
for my $round (1 .. $rounds)
{
	my @load = map { start_session($round, $_) } 1 .. $sessions;
	my $compactor = start_compactor();

	# Some load first, then a compaction under way, then a random moment.
	usleep(1_000_000 + int(rand(2_000_000)));

	# lsm_verify under the load (it waits for a compaction under way, and
	# writers go on meanwhile) sees nothing wrong either.
	is($node->safe_psql('postgres',
		"SELECT coalesce(string_agg(problem || ': ' || detail, E'\\n'), 'none') FROM lsm_verify('t')"),
		'none', "round $round: lsm_verify finds nothing wrong while rows are being inserted");
	# Polled inside the server: a compaction step may be over sooner than a
	# new connection is made.
	my ($compacting, $compactions) = split /\|/, $node->safe_psql('postgres', q{
		DO $$
		BEGIN
			FOR i IN 1 .. 30000 LOOP
				EXIT WHEN (SELECT compacting_pid IS NOT NULL FROM lsm_stats('t'));
				PERFORM pg_sleep(0.001);
			END LOOP;
		END
		$$;
		SELECT compacting_pid IS NOT NULL, compactions FROM lsm_stats('t');
	});
	is($compacting, 't', "round $round: a compaction is under way ($compactions done since the last start)")
	  or diag($node->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s %s/%s %s: %s', pid, backend_type,
					wait_event_type, wait_event, state, left(query, 60)), E'\n')
		FROM pg_stat_activity}) . "\n"
		  . $node->safe_psql('postgres', "SELECT * FROM lsm_stats('t')") . "\n"
		  . $node->safe_psql('postgres', "SELECT * FROM lsm_memtables('t')"));
	usleep(int(rand(30_000)));
	kill9_postmaster();

	# What the clients saw.
	my %last;
	for my $l (@load)
	{
		$l->{h}->finish;
		my $s = $l->{s};
		$last{$s} = 0;
		for my $line (split /\n/, slurp_file($l->{out}))
		{
			next unless $line =~ /^(COMMIT|ROLLBACK) (\d+) (\d+)$/;
			if ($1 eq 'COMMIT') { $committed{"$round $2 $3"} = 1; }
			else { $rolled_back{"$round $2 $3"} = 1; }
			$last{$2} = $3;
		}
		like(slurp_file($l->{err}),
			qr/server closed the connection|terminating connection|connection to server was lost|no connection to the server|could not connect|unexpected postmaster exit/,
			"round $round, session $s: the crash ended the load");
	}
	$compactor->{h}->finish;

	$node->start;
	is(redo_check($node), '', 'after crash recovery: every named page exists');

	# Every transaction found, with its rows and their sum.
	my %found;
	for my $line (split /\n/, $node->safe_psql('postgres',
		'SELECT round, session, txn, count(*), sum(k) FROM t GROUP BY 1, 2, 3'))
	{
		my ($r, $s, $j, $c, $sum) = split /\|/, $line;
		$found{"$r $s $j"} = [ $c, $sum ];
	}
	my (@missing, @wrong, @uncommitted);
	my ($want_rows, $want_sum) = (0, 0);
	for my $tx (keys %committed)
	{
		my $f = $found{$tx};
		my $e = $expected{$tx};
		$want_rows += $e->[0];
		$want_sum += $e->[1];
		if (!defined $f) { push @missing, $tx; }
		elsif ($f->[0] != $e->[0] || $f->[1] != $e->[1]) { push @wrong, $tx; }
	}
	my $in_flight = 0;
	for my $tx (keys %found)
	{
		next if $committed{$tx};
		my ($r, $s, $j) = split / /, $tx;
		my $e = $expected{$tx};
		# Only the transaction each session had in flight may have made it.
		if ($rolled_back{$tx} || !defined $e || $r != $round || $j != $last{$s} + 1)
		{
			push @uncommitted, $tx;
		}
		elsif ($found{$tx}[0] != $e->[0] || $found{$tx}[1] != $e->[1])
		{
			push @wrong, $tx;
		}
		else
		{
			$in_flight++;
			$want_rows += $e->[0];
			$want_sum += $e->[1];
		}
	}
	my $ncommitted = scalar(keys %committed);
	cmp_ok($ncommitted, '>', 50 * $round, "round $round: $ncommitted transactions committed so far");
	is(scalar(@missing), 0, "round $round: every committed transaction is there")
	  or diag("missing: @missing[0 .. ($#missing < 9 ? $#missing : 9)]");
	is(scalar(@wrong), 0, "round $round: each with its rows and keys")
	  or diag("wrong: @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)]");
	is(scalar(@uncommitted), 0, "round $round: no transaction that did not commit is there")
	  or diag("uncommitted: @uncommitted[0 .. ($#uncommitted < 9 ? $#uncommitted : 9)]");
	note "round $round: $in_flight transactions whose COMMIT was in flight made it";
	is($node->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(k) FROM t'),
		"$want_rows $want_sum", "round $round: $want_rows rows in all, and their sum");
	is($node->safe_psql('postgres',
		"SELECT coalesce(string_agg(problem || ': ' || detail, E'\\n'), 'none') FROM lsm_verify('t')"),
		'none', "round $round: lsm_verify finds no leaked or doubly owned page and no damage");
}

$node->stop;
done_testing();
