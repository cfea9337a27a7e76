# lsm_verify() and readers against a corrupted relation file, with and
# without data checksums.
#
# With the server stopped, a byte of three run pages is flipped: two data
# blocks of one run (one in the part that holds the rows, so that a scan
# reads it) and one of a second run.  lsm_inspect --verify and lsm_verify()
# each list all three, with the run and the block, and reading the table
# fails with an ERROR naming the table, a run and a block, never a crash.  Data checksums
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
		INSERT INTO t SELECT g, 'two ' || g || repeat('y', g % 30)
		  FROM generate_series(40001, 60000) g;
		SELECT lsm_flush('t');
		INSERT INTO t SELECT g, 'log ' || g FROM generate_series(60001, 65000) g;
	});
	is($node->safe_psql('postgres', "SELECT count(*) FROM lsm_verify('t')"),
		'0', "$name: a healthy table has no problem");
	my $file = $node->data_dir . '/'
	  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('t')");
	$node->stop;

	my ($out, $err) = ('', '');
	IPC::Run::run [ $inspect, '--runs', $file ], '>', \$out, '2>', \$err;
	my @runs;
	push @runs, [ $1, $2, $3 ] while $out =~ /run (\d+): pages (\d+)\.\.(\d+)/g;
	my ($log_head) = $out =~ /log head page (\d+)/;
	is(scalar(@runs), 2, "$name: lsm_inspect lists the two runs")
	  or diag($out);
	ok(defined $log_head, "$name: and the log head ($log_head)");
	my %first_of = map { $_->[0] => $_->[1] } @runs;

	# A run holds the row-map entries first, then the rows: three quarters
	# in is a page of rows, before the index and bloom filter at the end;
	# half way in is another data block of the same run.  The second run
	# gets one flipped page too.  Each flip is a problem of its own.
	my ($run, $first, $last) = @{ $runs[0] };
	my ($run2, $first2, $last2) = @{ $runs[1] };
	my $page = $first + int(($last - $first) * 3 / 4);
	my $page_b = $first + int(($last - $first) / 2);
	my $page2 = $first2 + int(($last2 - $first2) * 3 / 4);
	my %flipped = ($page => $run, $page_b => $run, $page2 => $run2);
	flip_byte($file, $_, 4000) for keys %flipped;

	# lsm_inspect --verify lists each bad data block with its run and pages.
	($out, $err) = ('', '');
	IPC::Run::run [ $inspect, '--verify', $file ], '>', \$out, '2>', \$err;
	my @bad = $out =~
	  /^run (\d+) \(level 0, pages \d+\.\.\d+\): data block: (data block \d+) at offset \d+ \(\d+ bytes\): bad checksum, framing or compression \(on pages? (\d+)(?:\.\.(\d+))?\)$/mg;
	my (%inspect_blocks, %inspect_pages);
	while (my ($r, $b, $from, $to) = splice(@bad, 0, 4))
	{
		$to //= $from;
		$inspect_blocks{"$r $b"} = 1;
		for my $p (keys %flipped)
		{
			$inspect_pages{$p} = 1 if $flipped{$p} == $r && $from <= $p && $p <= $to;
		}
	}
	is(scalar(keys %inspect_blocks), 3,
		"$name: lsm_inspect --verify lists three bad data blocks")
	  or diag($out);
	is_deeply([ sort keys %inspect_pages ], [ sort keys %flipped ],
		"$name: naming the run and the pages of each flipped page");
	like($out, qr/^verify: 3 problems$/m, "$name: and counts three problems");
	$node->start;

	my $rows = $node->safe_psql('postgres',
		"SELECT problem, level, run, block, detail FROM lsm_verify('t')");
	my @rows = split /\n/, $rows;
	is(scalar(@rows), 3, "$name: lsm_verify reports three problems")
	  or diag($rows);
	my (%verify_blocks, %verify_pages);
	for my $row (@rows)
	{
		my ($problem, $level, $prun, $block, $detail) = split /\|/, $row;
		my ($dblock) = $detail =~ /data block (\d+) at offset/;
		is($problem, 'run', "$name: a problem in a run: $detail");
		is($level, 0, "$name: at level 0");
		$verify_blocks{"$prun data block $dblock"} = 1 if defined $dblock;
		# With data checksums the whole 8 kB page is refused: the data
		# blocks after the first on it are named in the same row.
		if ($detail =~ /; data blocks (\d+)\.\.(\d+) are on block $block too/)
		{
			$verify_blocks{"$prun data block $_"} = 1 for ($1 .. $2);
		}
		if ($checksums)
		{
			like($detail, qr/invalid page in block $block/,
				"$name: the detail is PostgreSQL's checksum failure of block $block");
			$verify_pages{$block} = 1
			  if defined $flipped{$block} && $flipped{$block} == $prun;
		}
		else
		{
			like($detail, qr/bad checksum/,
				"$name: the detail says the run's checksum failed");
			# The block column is the first page of the data block.
			for my $p ($block, $block + 1)
			{
				$verify_pages{$p} = 1
				  if defined $flipped{$p} && $flipped{$p} == $prun;
			}
		}
		like($detail, qr/^run $prun \(blocks $first_of{$prun}\.\./,
			"$name: the detail names run $prun and its blocks");
	}
	is_deeply([ sort keys %verify_pages ], [ sort keys %flipped ],
		"$name: one row for each flipped page, naming its run and block");
	is_deeply([ grep { !$verify_blocks{$_} } sort keys %inspect_blocks ], [],
		"$name: each data block lsm_inspect --verify lists is in a row of lsm_verify");
	is_deeply([ sort keys %verify_blocks ], [ sort keys %inspect_blocks ],
		"$name: the same runs and data blocks as lsm_inspect --verify")
	  unless $checksums;

	my ($ret, $stdout, $stderr) =
	  $node->psql('postgres', 'SELECT count(*) FROM t');
	isnt($ret, 0, "$name: a scan of the table fails");
	like($stderr, qr/ERROR:  lsm table "t" is corrupt/, "$name: with an ERROR naming the table");
	like($stderr, qr/run (?:$run \(level 0, blocks $first\.\.$last\)|$run2 \(level 0, blocks $first2\.\.$last2\))/,
		"$name: a corrupt run");
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
		# The flipped byte is at payload offset 48: in the record there.
		my ($rec_off) = $rows =~ /^log\|$log_head\|log page $log_head: the record at offset (\d+) is damaged/m;
		ok(defined $rec_off && $rec_off >= 8 && $rec_off <= 48,
			"$name: and names the log page and the damaged record (at offset "
			  . ($rec_off // 'none') . ")");
	}
	($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT count(*) FROM t');
	isnt($ret, 0, "$name: reading the table fails");
	like($stderr, qr/ERROR:  lsm table "t" is corrupt/, "$name: naming the table");
	like($stderr, qr/(?:Log page|block) $log_head\b/, "$name: and the log page");
	is($node->safe_psql('postgres', 'SELECT 1'), '1', "$name: the server is still up");
	$node->stop;
}

done_testing();
