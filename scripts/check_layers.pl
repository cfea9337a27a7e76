#!/usr/bin/perl
# check_layers.pl - the layers of the code depend only downward.
#
#   lsm/            the core: plain C11, includes only its own headers
#   src/storage/    an LSM relation inside PostgreSQL
#   src/table/      the table access method
#   src/workers/    background flush and compaction
#   src/extension/  _PG_init and the SQL functions
#
# Each file may include headers of its own layer and of the layers above it
# in this list, never of one below it.  A header may declare only functions
# its own layer defines: a lower layer reaches an upper one through a hook
# the upper one installs, never by calling it by name.  Prints each
# violation and exits 1 if there is any.  Run from the repository's root
# (make check-layers).
use strict;
use warnings;

my @layers = ('lsm', map { "src/$_" } qw(storage table workers extension));
my %rank;
@rank{@layers} = (0 .. $#layers);
my (%layer_of, %files, @bad);

for my $dir (@layers) {
	opendir(my $dh, $dir) or die "check_layers: no $dir\n";
	for my $f (sort grep { /\.[ch]$/ } readdir $dh) {
		die "check_layers: $f is in two layers\n" if exists $layer_of{$f} && $dir ne 'lsm';
		$layer_of{$f} = $dir unless $dir eq 'lsm';
		push @{ $files{$dir} }, $f;
	}
}
opendir(my $src, 'src') or die;
push @bad, "src/$_: source files belong in a layer's folder"
  for grep { /\.[ch]$/ } readdir $src;

sub slurp { local $/; open(my $fh, '<', $_[0]) or die "$_[0]: $!\n"; <$fh> }

# Includes.
for my $dir (@layers) {
	for my $f (@{ $files{$dir} }) {
		my $text = slurp("$dir/$f");
		while ($text =~ /^\s*#\s*include\s+"([^"]+)"/mg) {
			my $inc = $1;
			my $to;
			if ($inc =~ m{^\.\./|^src/}) {
				push @bad, "$dir/$f includes \"$inc\" by a path: include headers by name";
				next;
			} elsif ($dir eq 'lsm') {
				$to = 'lsm' if -e "lsm/$inc";
				push @bad, "$dir/$f includes \"$inc\": the core includes only its own headers"
				  unless defined $to;
				next unless defined $to;
			} elsif ($inc =~ m{^lsm/[^/]+$}) {
				$to = 'lsm';
			} else {
				$to = $layer_of{$inc};
				next unless defined $to;	# PostgreSQL's
			}
			if ($rank{$to} > $rank{$dir}) {
				push @bad, "$dir/$f ($dir) includes $to/$inc, a layer above it";
			}
		}
	}
}

# Functions a layer's headers declare are defined in that layer.
my %defined_in;
for my $dir (@layers[1 .. $#layers]) {
	for my $f (grep { /\.c$/ } @{ $files{$dir} }) {
		my $text = slurp("$dir/$f");
		$defined_in{$1} //= $dir while $text =~ /^(\w+)\s*\([^;]*?\)\s*\{/mg;
	}
}
for my $dir (@layers[1 .. $#layers]) {
	for my $h (grep { /\.h$/ } @{ $files{$dir} }) {
		my $text = slurp("$dir/$h");
		while ($text =~ /^extern\b[^;(]*?\b(\w+)\s*\(/mg) {
			my $fn = $1;
			my $at = $defined_in{$fn};
			push @bad, "$dir/$h declares $fn, which $at defines"
			  if defined $at && $at ne $dir;
		}
	}
}

print "$_\n" for @bad;
if (@bad) {
	print scalar(@bad), " layering violations (see scripts/check_layers.pl)\n";
	exit 1;
}
printf "layers hold: %s\n", join(' < ', @layers);
