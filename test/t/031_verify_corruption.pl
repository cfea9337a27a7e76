# lsm_verify() and readers against a corrupted relation file, with and
# without data checksums.
#
# With the server stopped, a byte of a run page (in the part of the run
# that holds the rows, so that a scan reads it) is flipped: lsm_verify()
# reports the run and the block, and reading the table fails with an ERROR
# naming the table, the run and the block, never a crash.  Data checksums
# catch the flip when the page is read (PostgreSQL's error, wrapped with the
# table and run); without them the run's own xxh3 block checksum does.
# A page appended to the file behind the server's back belongs to nothing:
# lsm_verify() reports it, and the next start gives it to the free list.
# Last, a flipped byte of a log page: lsm_verify() reports the log page, and
# reading the table fails naming it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Built by "make -C lsm"; scripts/test.sh copies it into the test tree.
my $inspect = $ENV{LSM_INSPECT} || 'lsm/build/lsm_inspect';
ok(-x $inspect, "lsm_inspect is built ($inspect)");

# Flips one byte of the file at page $page, offset $off within the page.
sub flip_byte
{
	my ($file, $page, $off) = @_;
	open(my $fh, '+<', $file) or die "open $file: $!";
	binmode $fh;
	my $pos = $page * 8192 + $off;
	seek($fh, $pos, 0) or die "seek: $!";
	read($fh, my $byte, 1) == 1 or die "read: $!";
	seek($fh, $pos, 0) or die "seek: $!";
	print $fh chr(ord($byte) ^ 0x5a);
	close $fh or die "close: $!";
	return;
}

for my $checksums (0, 1)
{
	my $name = $checksums ? 'with data checksums' : 'without data checksums';
	my $node = PostgreSQL::Test::Cluster->new("verify_$checksums");
	$node->init($checksums ? (extra => ['--data-checksums']) : ());
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
# no background compaction: the runs stay where lsm_inspect found them
lsm.l0_compaction_trigger = 64
});
	$node->start;
	is($node->safe_psql('postgres', 'SHOW data_checksums'),
		$checksums ? 'on' : 'off', "$name: data_checksums");
	$node->safe_psql('postgres', q{
		CREATE EXTENSION lsm_am;
		CREATE TABLE t (k bigint, v text) USING lsm;
		INSERT INTO t SELECT g, 'row ' || g || repeat('x', g % 40)
		  FROM generate_series(1, 40000) g;
		SELECT lsm_flush('t');
		INSERT INTO t SELECT g, 'log ' || g FROM generate_series(40001, 45000) g;
	});
	is($node->safe_psql('postgres', "SELECT count(*) FROM lsm_verify('t')"),
		'0', "$name: a healthy table has no problem");
	my $file = $node->data_dir . '/'
	  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('t')");
	$node->stop;

	my ($out, $err) = ('', '');
	IPC::Run::run [ $inspect, '--runs', $file ], '>', \$out, '2>', \$err;
	my ($run, $first, $last) = $out =~ /run (\d+): pages (\d+)\.\.(\d+)/;
	my ($log_head) = $out =~ /log head page (\d+)/;
	ok(defined $run && defined $log_head,
		"$name: lsm_inspect names the run ($run, pages $first..$last) and the log head ($log_head)");

	# A run holds the row-map entries first, then the rows: three quarters
	# in is a page of rows, before the index and bloom filter at the end.
	my $page = $first + int(($last - $first) * 3 / 4);
	flip_byte($file, $page, 4000);
	$node->start;

	my $rows = $node->safe_psql('postgres',
		"SELECT problem, level, run, block, detail FROM lsm_verify('t')");
	my @rows = split /\n/, $rows;
	is(scalar(@rows), 1, "$name: lsm_verify reports one problem")
	  or diag($rows);
	my ($problem, $level, $prun, $block, $detail) = split /\|/, ($rows[0] // '');
	is($problem, 'run', "$name: the problem is in a run");
	is($prun, $run, "$name: lsm_verify names run $run");
	is($level, 0, "$name: at level 0");
	if ($checksums)
	{
		is($block, $page, "$name: and the block whose checksum failed ($page)");
		like($detail, qr/invalid page in block $page/,
			"$name: the detail is PostgreSQL's checksum failure");
	}
	else
	{
		ok($block == $page || $block == $page - 1,
			"$name: and the block whose data failed its checksum ($block, flipped $page)");
		like($detail, qr/bad checksum/, "$name: the detail says the run's checksum failed");
	}

	my ($ret, $stdout, $stderr) =
	  $node->psql('postgres', 'SELECT count(*) FROM t');
	isnt($ret, 0, "$name: a scan of the table fails");
	like($stderr, qr/ERROR:  lsm table "t" is corrupt/, "$name: with an ERROR naming the table");
	like($stderr, qr/run $run \(level 0, blocks $first\.\.$last\)/, "$name: the run");
	like($stderr, qr/block $page|block \d+/, "$name: and the block");
	is($node->safe_psql('postgres', 'SELECT 1'), '1', "$name: the server is still up");

	# A page nobody owns: the server cannot know it was appended.
	open(my $fh, '>>', $file) or die "open: $!";
	binmode $fh;
	print $fh "\0" x 8192;
	close $fh;
	my $nblocks = (-s $file) / 8192;
	$rows = $node->safe_psql('postgres',
		"SELECT block, detail FROM lsm_verify('t') WHERE problem = 'pages'");
	like($rows, qr/^${\($nblocks - 1)}\|blocks ${\($nblocks - 1)}\.\.${\($nblocks - 1)} \(1 pages\) belong to nothing.*1 new \(all zero\)/,
		"$name: lsm_verify reports the page that belongs to nothing");
	$node->restart;
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM lsm_verify('t') WHERE problem = 'pages'"),
		'0', "$name: the next start gave it to the free list");

	# A damaged log record.
	$node->stop;
	flip_byte($file, $log_head, 24 + 8 + 40);
	$node->start;
	$rows = $node->safe_psql('postgres',
		"SELECT problem, block, detail FROM lsm_verify('t') WHERE problem = 'log'");
	like($rows, qr/^log\|\|the table's log cannot be loaded/m,
		"$name: lsm_verify says the log cannot be loaded");
	if ($checksums)
	{
		like($rows, qr/^log\|$log_head\|log page $log_head cannot be read: invalid page in block $log_head/m,
			"$name: and names the log page whose checksum failed");
	}
	else
	{
		like($rows, qr/^log\|$log_head\|log page $log_head: the record at offset 8 is damaged/m,
			"$name: and names the log page and the damaged record");
	}
	($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT count(*) FROM t');
	isnt($ret, 0, "$name: reading the table fails");
	like($stderr, qr/ERROR:  lsm table "t" is corrupt/, "$name: naming the table");
	like($stderr, qr/(?:Log page|block) $log_head\b/, "$name: and the log page");
	is($node->safe_psql('postgres', 'SELECT 1'), '1', "$name: the server is still up");
	$node->stop;
}

done_testing();
