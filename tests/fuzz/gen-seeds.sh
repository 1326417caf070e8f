#!/bin/sh
# gen-seeds.sh DIR: writes the big seeds that are not worth committing
# (megabytes), one folder per harness under DIR: a message with a 1 MB
# header line, a report with 10,000 recipients, one with 20,000 header
# fields, and an import file of 10,000 rows.  test-replay.sh and
# ./quickstart fuzz use them beside tests/fuzz/seeds/.
set -eu
dir=$1
mkdir -p "$dir/message" "$dir/import"

hdr='From: MAILER-DAEMON@mx.fuzz.example
To: bounces@fuzz.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0'

# A 1 MB header line (one unfolded Subject:).
{
    printf 'From: MAILER-DAEMON@mx.fuzz.example\nTo: bounces@fuzz.example\nSubject: '
    head -c 1048576 /dev/zero | tr '\0' 'x'
    printf '\n\n<user@dest.example>: 550 5.1.1 user unknown\n'
} > "$dir/message/header-line-1mb.eml"

# A DSN with 10,000 recipients.
{
    printf '%s\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n' "$hdr"
    printf -- '--b\nContent-Type: text/plain\n\nDelivery failed.\n\n--b\nContent-Type: message/delivery-status\n\n'
    printf 'Reporting-MTA: dns; mx.fuzz.example\n\n'
    i=0
    while [ $i -lt 10000 ]; do
        printf 'Final-Recipient: rfc822; user%d@dest.example\nAction: failed\nStatus: 5.1.1\n\n' $i
        i=$((i + 1))
    done
    printf -- '--b--\n'
} > "$dir/message/report-10000-recipients.eml"

# 20,000 header fields.
{
    i=0
    while [ $i -lt 20000 ]; do
        printf 'X-Field-%d: v\n' $i
        i=$((i + 1))
    done
    printf '%s\nContent-Type: text/plain\n\n<user@dest.example>: 550 5.1.1 user unknown\n' "$hdr"
} > "$dir/message/header-fields-20000.eml"

# An import of 10,000 rows.
{
    printf 'address,reason,ttl\n'
    i=0
    while [ $i -lt 10000 ]; do
        printf 'user%d@dest.example,hard-bounce,7d\n' $i
        i=$((i + 1))
    done
} > "$dir/import/rows-10000.csv"
