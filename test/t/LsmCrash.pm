# LsmCrash.pm - crashing a PostgreSQL::Test::Cluster node the hard way, for
# the TAP tests that check what survives a crash.
#
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use LsmCrash qw(kill9_all);
#   kill9_all($node);
package LsmCrash;

use strict;
use warnings;

use Cwd qw(realpath);
use Exporter qw(import);
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT_OK = qw(kill9_all);

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

1;
