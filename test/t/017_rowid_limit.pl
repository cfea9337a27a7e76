# The last row ids: a table hands out row ids up to the last one whose TID
# has a valid block number, then refuses new rows with a clear error.
#
# A row's TID is (row id / 291, row id % 291 + 1), so row ids must stay
# below 291 * 2^32 - 291 (about 1.25 * 10^12) or two rows would share a TID.
# Reaching that by inserting would take days, so the test moves the
# table's row-id high-water mark in its metapage (id_hwm, at byte 32 of
# block 0: LSM_FORMAT_PAGE_HEADER + LSM_FORMAT_META_ID_HWM_OFF in
# lsm/format.h) to five ids before the end while the server is stopped.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rowid_limit');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'lsm_am'\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k int) USING lsm;
	INSERT INTO t VALUES (0);
	CHECKPOINT;
});
my $file = $node->data_dir . '/'
  . $node->safe_psql('postgres', q{SELECT pg_relation_filepath('t')});
$node->stop;

my $ids = 4294967295 * 291;    # (MaxBlockNumber + 1) * 291 row ids
open(my $fh, '+<', $file) or die "cannot open $file: $!";
binmode $fh;
seek($fh, 32, 0) or die;
print $fh pack('Q<', $ids - 5);
close($fh) or die;

$node->start;
$node->safe_psql('postgres', 'INSERT INTO t SELECT g FROM generate_series(1, 5) g');
is($node->safe_psql('postgres', 'SELECT max(ctid) FROM t'), '(4294967294,291)',
	'the last row id has the last valid TID');
my ($ret, $out, $err) =
  $node->psql('postgres', 'INSERT INTO t VALUES (6)', extra_params => ['-v', 'VERBOSITY=verbose']);
isnt($ret, 0, 'a row past the last row id is refused');
like($err, qr/54000: lsm table "t" has used up its row ids/,
	'with SQLSTATE 54000 (program_limit_exceeded)');
like($err, qr/HINT:  Copy the rows into a new lsm table/, 'and a hint');
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT ctid) FROM t'), '6|6',
	'every row has its own TID');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE ctid = \'(4294967294,291)\''),
	'1', 'a TID lookup finds the last row');

# A copy starts again from the first row id.
$node->safe_psql('postgres', 'CREATE TABLE t2 USING lsm AS SELECT * FROM t');
is($node->safe_psql('postgres', 'SELECT count(*), max(ctid) FROM t2'), '6|(0,6)',
	'the hint works: a copy of the table takes new rows');
$node->stop;
done_testing();
