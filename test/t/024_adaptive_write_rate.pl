# The delayed write rate adapts to what compaction keeps up with.
#
# Four pgbench sessions insert random keys into an lsm table with small
# memtables, faster than its one compaction worker can merge them, with
# lsm.delayed_write_rate far above what the worker sustains.  The table's
# rate (lsm_stats.delayed_write_rate) comes down from the setting within
# the first seconds; from then on level 0 stays below the stop trigger, no
# write waits for compaction (no stop after the warm-up), and no transaction
# takes a second.  At the end the table holds every row inserted and
# lsm_verify finds nothing wrong.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $stop = 10;
my $clients = 4;
my $seconds = 40;
my $warmup = 15;

my $node = PostgreSQL::Test::Cluster->new('write_rate');
$node->init;
# synchronous_commit off: transaction times are those of the table, not of
# the machine's fsync.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
synchronous_commit = off
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 32MB
lsm.l0_compaction_trigger = 2
lsm.l0_slowdown_trigger = 4
lsm.l0_stop_trigger = $stop
lsm.delayed_write_rate = 64MB
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE r (k bigint, n bigint, pad text) USING lsm;
	CREATE SEQUENCE seq;
	CREATE FUNCTION l0(regclass) RETURNS int LANGUAGE sql
	  AS $$SELECT coalesce(max(runs), 0)::int FROM lsm_levels($1) WHERE level = 0$$;
});

my $dir = $node->basedir;
my $script = "$dir/insert.sql";
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh q{
INSERT INTO r SELECT hashint8(n), n, repeat(md5(n::text), 2)
  FROM (SELECT nextval('seq') AS n FROM generate_series(1, 50)) s;
};
close($fh);

my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		'pgbench', '-n', '-f', $script, '-c', $clients, '-j', 2,
		'-T', $seconds, '-l', "--log-prefix=$dir/lat",
		$node->connstr('postgres')
	],
	'>', \$out, '2>', \$err);

# Level 0 and the stops, sampled ten times a second after the warm-up.
my $t0 = time;
my ($max_l0, $stops_before, $min_rate) = (0, undef, undef);
while (time - $t0 < $seconds - 1)
{
	my ($l0, $stops, $rate) = split /\|/, $node->safe_psql('postgres',
		"SELECT l0('r'), stall_stops, delayed_write_rate FROM lsm_stats('r')");
	if (time - $t0 >= $warmup)
	{
		$stops_before //= $stops;
		$max_l0 = $l0 if $l0 > $max_l0;
	}
	$min_rate = $rate if !defined $min_rate || $rate < $min_rate;
	usleep(100_000);
}
$h->finish;
note $out;
is($err =~ /error|abort/i ? $err : '', '', 'pgbench ran without errors');

my ($stops, $rate, $slowdowns, $amp) = split /\|/, $node->safe_psql('postgres',
	'SELECT stall_stops, delayed_write_rate, stall_slowdowns, write_amplification FROM lsm_stats(\'r\')');
note "slowdowns $slowdowns, stops $stops ($stops_before at ${warmup} s), "
  . "rate at least $min_rate bytes/s, $rate at the end, write amplification $amp";

cmp_ok($min_rate, '<', 64 * 1024 * 1024 / 4,
	'the delayed write rate came down from lsm.delayed_write_rate');
cmp_ok($slowdowns, '>', 0, 'writes were slowed down');
cmp_ok($max_l0, '<', $stop, "after the warm-up level 0 stayed below the stop trigger (at most $max_l0)");
is($stops - $stops_before, 0, 'after the warm-up no write stopped');

# Transaction times from pgbench's log: client, transaction, latency (us),
# script, epoch seconds, microseconds.
my ($txns, $late, $max_us) = (0, 0, 0);
for my $log (glob("$dir/lat.*"))
{
	open(my $lf, '<', $log) or die "cannot read $log: $!";
	while (my $line = <$lf>)
	{
		my @f = split ' ', $line;
		$txns++;
		next if $f[4] + $f[5] / 1e6 - $f[2] / 1e6 < $t0 + $warmup;
		$max_us = $f[2] if $f[2] > $max_us;
	}
	close($lf);
}
note sprintf('%d transactions; slowest after the warm-up %.3f s', $txns, $max_us / 1e6);
cmp_ok($txns, '>', 0, 'pgbench logged its transactions');
cmp_ok($max_us, '<', 1_000_000, 'after the warm-up no transaction took a second');

is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT n) FROM r'),
	($txns * 50) . '|' . ($txns * 50), 'every row inserted is there, once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM lsm_verify(\'r\')'), '0',
	'lsm_verify finds nothing wrong');

$node->stop;
done_testing();
