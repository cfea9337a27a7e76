# LsmCrash.pm - crashing a PostgreSQL::Test::Cluster node the hard way, for
# the TAP tests that check what survives a crash.
#
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use LsmCrash qw(kill9_all acknowledged crash_problems);
#   kill9_all($node);
#   my ($committed, $last) = acknowledged(@load);
#   my @bad = crash_problems(\%found, $committed, $last, $rows, $commits);
#   is(redo_check($node), '', 'every page named exists');
#   my $session = run_script($node, $file, $s);
#   my $finished = crash_during($node, 'VACUUM t', 'VACUUM%', 0.05);
#   my %found = found_transactions($node, 'round = 1 AND session > 0');
package LsmCrash;

use strict;
use warnings;

use Cwd qw(realpath);
use Exporter qw(import);
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

our @EXPORT_OK =
  qw(kill9_all acknowledged crash_problems redo_check run_script crash_during
  found_transactions);

# The server processes of a data directory: every PostgreSQL process keeps
# its data directory as its working directory, including a child forked an
# instant before its postmaster died (no longer the postmaster's child then).
sub server_pids
{
	my ($datadir) = @_;
	my @pids;
	opendir(my $dh, '/proc') or die "cannot read /proc: $!";
	for my $p (grep { /^\d+$/ } readdir($dh))
	{
		my $cwd = readlink("/proc/$p/cwd");
		next unless defined $cwd && $cwd eq $datadir;
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close($fh);
		# pid (comm) state ...: zombies are gone already
		push @pids, $p if defined $stat && $stat !~ /\)\s+Z\s/;
	}
	closedir($dh);
	return @pids;
}

# Kills the postmaster and every process of its data directory with SIGKILL
# at once, as a power loss would stop them, and waits until all are gone;
# then removes the lock files a crashed machine would not have kept.
sub kill9_all
{
	my ($node) = @_;
	my $datadir = realpath($node->data_dir);
	my $first = 1;

	for (my $tries = 0; $tries < 1000; $tries++)
	{
		my @pids = server_pids($datadir);
		last if !@pids;
		note 'SIGKILL to ' . scalar(@pids) . ' server processes' if $first;
		$first = 0;
		kill 'KILL', @pids;
		usleep(10_000);
	}
	die "server processes of $datadir survive SIGKILL"
	  if server_pids($datadir);
	$node->{_pid} = undef;
	unlink($node->data_dir . '/postmaster.pid',
		$node->host . '/.s.PGSQL.' . $node->port . '.lock');
	return;
}

# The transactions a crashed load's psql sessions acknowledged.  Each
# session ({ h => IPC::Run harness, out => ref to its stdout, s => its
# number }) prints "COMMIT s j" or "ROLLBACK s j" once its transaction j's
# COMMIT or ROLLBACK returned.  Returns (\%committed, \%last): "s j" => 1 for
# each acknowledged commit, and each session's last acknowledged j (0: none).
sub acknowledged
{
	my (@load) = @_;
	my (%committed, %last);
	for my $l (@load)
	{
		$l->{h}->finish;
		$last{ $l->{s} } = 0;
		for my $line (split /\n/, ${ $l->{out} })
		{
			next unless $line =~ /^(COMMIT|ROLLBACK) (\d+) (\d+)$/;
			$committed{"$2 $3"} = 1 if $1 eq 'COMMIT';
			$last{$2} = $3;
		}
	}
	return (\%committed, \%last);
}

# What is wrong with the transactions found after a crash (%$found: "s j" =>
# rows): every acknowledged commit must be there whole ($rows->($s, $j)
# rows); any other transaction only if it is the one whose COMMIT was in
# flight -- the next after its session's last acknowledgement, one that
# commits ($commits->($s, $j)) -- and then whole.  Returns the problems.
sub crash_problems
{
	my ($found, $committed, $last, $rows, $commits) = @_;
	my @bad;
	for my $tx (keys %$committed)
	{
		my ($s, $j) = split / /, $tx;
		push @bad, "$tx missing or partial"
		  unless ($found->{$tx} // 0) == $rows->($s, $j);
	}
	for my $tx (keys %$found)
	{
		my ($s, $j) = split / /, $tx;
		next if $committed->{$tx};
		push @bad, "$tx should not be there"
		  unless $j == $last->{$s} + 1
		  && $commits->($s, $j)
		  && $found->{$tx} == $rows->($s, $j);
	}
	return @bad;
}

# The check to run after every redo (crash recovery, a standby's replay,
# a promotion): lsm_verify() of every lsm table of every database, which
# finds any page that the metapage, the manifest, the log or the free list
# names past the relation's end; and no load that had to drop free pages
# past the end (lsm_reclaim_orphans' warning) in the server log so far.
# Returns the problems, one per line; '' when there are none.
sub redo_check
{
	my ($node) = @_;
	my @bad;
	my @dbs = split /\n/, $node->safe_psql('postgres',
		'SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1');
	for my $db (@dbs)
	{
		next
		  unless $node->safe_psql($db,
			q{SELECT count(*) FROM pg_extension WHERE extname = 'lsm_am'}) eq '1';
		my $found = $node->safe_psql(
			$db, q{
			SELECT string_agg(c.oid::regclass || ': ' || v.problem || ': ' || v.detail,
							  E'\n' ORDER BY c.oid)
			FROM pg_class c JOIN pg_am am ON am.oid = c.relam,
				 LATERAL lsm_verify(c.oid) v
			WHERE am.amname = 'lsm' AND c.relkind IN ('r', 'm')
				AND c.relpersistence = 'p'});
		push @bad, map { "$db: $_" } split /\n/, $found;
	}
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
	push @bad, $1 while $log =~ /(WARNING:.*free pages past its end.*)/g;
	return join("\n", @bad);
}

# Starts psql running the script $file as load session $s, stopping at the
# first error; returns the session as acknowledged() takes it.
sub run_script
{
	my ($node, $file, $s) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', $file ],
		'>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err, s => $s };
}

# Runs $sql in a session of its own and crashes the server (kill9_all)
# $delay seconds after pg_stat_activity shows a query LIKE $like running,
# or at once if the statement ended first.  Returns whether it had ended.
sub crash_during
{
	my ($node, $sql, $like, $delay) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-At', '-d', $node->connstr('postgres'), '-c', $sql, '-c', "SELECT 'statement done'" ],
		'>', \$out, '2>', \$err);
	for (1 .. 2000)
	{
		last if $node->safe_psql('postgres', qq{
			SELECT count(*) FROM pg_stat_activity
			WHERE state = 'active' AND query LIKE \$q\$$like\$q\$});
		$h->pump_nb;
		last if $out =~ /statement done/;
		usleep(5_000);
	}
	usleep($delay * 1_000_000);
	kill9_all($node);
	$h->finish;
	return $out =~ /statement done/;
}

# The rows of table t per transaction found after a crash: "session txn" =>
# rows, for the rows that match the condition $where.
sub found_transactions
{
	my ($node, $where) = @_;
	my %found;
	for my $line (split /\n/, $node->safe_psql('postgres',
		"SELECT session, txn, count(*) FROM t WHERE $where GROUP BY 1, 2"))
	{
		my ($s, $j, $c) = split /\|/, $line;
		$found{"$s $j"} = $c;
	}
	return %found;
}

1;
