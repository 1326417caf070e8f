#!/usr/bin/perl
# sisimai-dump.pl: run Debian's Sisimai (libsisimai-perl) over bounce
# messages and print one JSON object per reported recipient, with the same
# fields as `suppress-ingest --dry-run --json`, so compare.py can put the
# two side by side and ingest-bench.sh can time Sisimai on the same files.
#
# Usage: sisimai-dump.pl [--quiet] [--repeat N] FILE...
#   --quiet     parse only, print nothing but the count (for the benchmark)
#   --repeat N  parse the file list N times
use strict;
use warnings;
use File::Basename qw(basename);
use Sisimai;

my $quiet  = 0;
my $repeat = 1;
while (@ARGV && $ARGV[0] =~ /^--/) {
    my $opt = shift @ARGV;
    if ($opt eq '--quiet') {
        $quiet = 1;
    } elsif ($opt eq '--repeat') {
        $repeat = shift @ARGV;
        die "sisimai-dump.pl: --repeat needs a positive number\n"
            unless defined $repeat && $repeat =~ /^[1-9][0-9]*$/;
    } elsif ($opt eq '--') {
        last;
    } else {
        die "sisimai-dump.pl: unknown option $opt\n";
    }
}
die "usage: sisimai-dump.pl [--quiet] [--repeat N] FILE...\n" unless @ARGV;

# Minimal JSON string encoder: the core JSON::PP would do, but this keeps
# the output byte-identical in key order with suppress-ingest's.
sub jstr {
    my ($s) = @_;
    return 'null' unless defined $s && length $s;
    $s =~ s/(["\\])/\\$1/g;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\t/\\t/g;
    $s =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord($1))/ge;
    return '"' . $s . '"';
}

# Sisimai has no "class"; derive ours from its reason, action and softbounce.
sub class_of {
    my ($d) = @_;
    my $reason = $d->reason // '';
    return 'complaint' if $reason eq 'feedback';
    return 'autoreply' if $reason eq 'vacation';
    return 'delivered' if $reason eq 'delivered';
    return 'delayed'   if ($d->action // '') eq 'delayed';
    my $soft = $d->softbounce;
    return 'unknown' unless defined $soft && length $soft;
    return $soft == 1 ? 'soft' : $soft == 0 ? 'hard' : 'unknown';
}

binmode STDOUT, ':raw';
my $count = 0;
for (1 .. $repeat) {
    for my $file (@ARGV) {
        my $data = Sisimai->make($file, delivered => 1) || [];
        $count += scalar @$data;
        next if $quiet;
        unless (@$data) {
            print '{"file": ', jstr(basename($file)), ', "class": "none"}', "\n";
            next;
        }
        for my $d (@$data) {
            my $alias = $d->alias;
            my @f = (
                [file               => jstr(basename($file))],
                [recipient          => jstr($d->recipient ? $d->recipient->address : undef)],
                [original_recipient => jstr(length($alias // '') ? $alias : undef)],
                [action             => jstr($d->action)],
                [status             => jstr($d->deliverystatus)],
                [replycode          => jstr($d->replycode)],
                [command            => jstr($d->smtpcommand)],
                [reason             => jstr($d->reason)],
                [class              => jstr(class_of($d))],
                [diagnostic         => jstr($d->diagnosticcode)],
                [reporting_mta      => jstr($d->lhost)],
                [remote_mta         => jstr($d->rhost)],
                [detector           => jstr($d->smtpagent)],
                [feedback_type      => jstr($d->feedbacktype)],
            );
            print '{', join(', ', map { jstr($_->[0]) . ': ' . $_->[1] } @f), "}\n";
        }
    }
}
print STDERR "sisimai-dump.pl: $count records\n" if $quiet;
exit 0;
