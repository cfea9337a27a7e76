# lsm_inspect, the core's offline tool, reads a real lsm table's relation
# file: the metapage, the key description and the manifest's runs, and with
# --verify every run's checksums and key order.  A byte flipped inside a run
# page must be reported (exit status 1), never crash the tool.
use strict;
use warnings;

use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Built by "make -C lsm"; scripts/test.sh copies it into the test tree.
my $inspect = $ENV{LSM_INSPECT} || 'lsm/build/lsm_inspect';
ok(-x $inspect, "lsm_inspect is built ($inspect)");

my $node = PostgreSQL::Test::Cluster->new('inspect');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'lsm_am'\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k bigint, v text) USING lsm;
	INSERT INTO t SELECT g * 7, 'row ' || g FROM generate_series(1, 50000) g;
	SELECT lsm_flush('t');
	INSERT INTO t SELECT g * 7 + 1, 'row ' || g FROM generate_series(1, 30000) g;
	SELECT lsm_flush('t');
	DELETE FROM t WHERE k % 10 = 0;
	SELECT lsm_flush('t');
	INSERT INTO t SELECT g * 7 + 2, 'in the log ' || g FROM generate_series(1, 1000) g;
});
my $file = $node->data_dir . '/'
  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('t')");
$node->stop;

my ($out, $err);
IPC::Run::run [ $inspect, '--runs', '--verify', $file ], '>', \$out, '2>', \$err;
is($? >> 8, 0, 'a healthy table verifies');
like($out, qr/key: attribute 1, type oid 20, collation oid 0, encoder int8/,
	'the key description is the first column\'s');
like($out, qr/level 0: 3 runs, 168000 entries/,
	'three level-0 runs: 80000 rows with their row-map entries, 8000 deletes');
like($out, qr/runs: 3 checked, 3 intact with 168000 entries/, 'every run verifies');
like($out, qr/log: \d+ pages from page \d+, (\d+) records/, 'the log chain is walked');
my ($records) = $out =~ /log: \d+ pages from page \d+, (\d+) records/;
cmp_ok($records, '>=', 2000, "the log holds the 1000 rows not flushed ($records records)");
like($out, qr/pages: \d+ in the file, \d+ belonging to nothing/, 'pages are accounted for');
like($out, qr/verify: 0 problems/, 'no problems found');
my ($log_head) = $out =~ /log head page (\d+)/;

# Flip one byte in the middle of the first run's first page.
my ($first) = $out =~ /run \d+: pages (\d+)\.\./;
ok(defined $first, 'a run page number is printed');
my $bad = "$file.bad";
copy($file, $bad) or die "copy: $!";
open(my $fh, '+<', $bad) or die "open: $!";
binmode $fh;
my $pos = $first * 8192 + 4000;
seek($fh, $pos, 0);
read($fh, my $byte, 1);
seek($fh, $pos, 0);
print $fh chr(ord($byte) ^ 0x5a);
close $fh;

IPC::Run::run [ $inspect, '--verify', $bad ], '>', \$out, '2>', \$err;
is($? >> 8, 1, 'a corrupt run page fails verification');
like($out, qr/run \d+ \(level 0, pages \d+\.\.\d+\): data block: data block \d+ at offset \d+ \(\d+ bytes\): bad checksum/,
	'the report names the run, its level and pages, and the data block');
my ($from, $to) = $out =~ /\(on pages? (\d+)(?:\.\.(\d+))?\)/;
ok(defined $from && $from <= $first && $first <= ($to // $from),
	"and the pages holding the data that failed its checksum ($first)");
like($out, qr/runs: 3 checked, 2 intact/, 'the other runs are intact');
like($out, qr/verify: [1-9]\d* problems?/, 'the problems are counted');

# A damaged record in the log: the first page of the chain that holds one.
my $badlog = "$file.badlog";
copy($file, $badlog) or die "copy: $!";
open($fh, '+<', $badlog) or die "open: $!";
binmode $fh;
my $logpage = $log_head;
for (;;)
{
	seek($fh, $logpage * 8192, 0);
	read($fh, my $page, 8192) == 8192 or die "read: $!";
	last if unpack('v', substr($page, 12, 2)) > 24 + 8;    # pd_lower: records
	$logpage = unpack('V', substr($page, 24, 4));           # the next page
	die "no log page holds a record" if $logpage == 0;
}
seek($fh, $logpage * 8192 + 24 + 8 + 12, 0);
read($fh, $byte, 1);
seek($fh, $logpage * 8192 + 24 + 8 + 12, 0);
print $fh chr(ord($byte) ^ 0x5a);
close $fh;
IPC::Run::run [ $inspect, '--verify', $badlog ], '>', \$out, '2>', \$err;
is($? >> 8, 1, 'a damaged log record fails verification');
like($out, qr/log: page $logpage, the record at offset 8 is damaged/,
	'the report names the log page and the record');

# Cut short: the runs past the end are outside the file.
my $short = "$file.short";
copy($file, $short) or die "copy: $!";
truncate($short, int((-s $short) / 8192 / 2) * 8192) or die "truncate: $!";
IPC::Run::run [ $inspect, '--verify', $short ], '>', \$out, '2>', \$err;
is($? >> 8, 1, 'a truncated file fails verification');
like($out, qr/pages: (?:run \d+|a free extent|the manifest's overflow extent) at pages \d+\.\.\d+ is not inside the file's pages/,
	'the report names what lies outside the file');

# Not an lsm relation file at all.
my $junk = $node->data_dir . '/junk';
open($fh, '>', $junk) or die;
print $fh "\0" x 8192;
close $fh;
IPC::Run::run [ $inspect, $junk ], '>', \$out, '2>', \$err;
is($? >> 8, 1, 'a file that is not an lsm table is refused');
like($out, qr/page 0 is not an lsm metapage/, 'and says why');

done_testing();
