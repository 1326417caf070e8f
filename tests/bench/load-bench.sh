#!/bin/bash
# load-bench.sh: the long run of tests/integration/postfix-load.sh (issue
# 10, Load): 500 concurrent SMTP sessions for 60 s through a real Postfix,
# half through the milter and half through the policy service, while the
# suppression list changes under them.  Prints throughput (messages and
# RCPTs per second), RCPT latency percentiles (sent to reply, as the
# client sees it), the milter's RSS and descriptors over the run, and the
# same checks as the test (zero wrong verdicts, no 4xx, flat RSS and
# descriptors).  A benchmark: not part of make check.
#
# usage: load-bench.sh   (as root; from the build tree, or set top_builddir)
# Environment: SESSIONS (500), DURATION (60)
SESSIONS=${SESSIONS:-500} DURATION=${DURATION:-60} \
    exec bash "$(dirname "$0")/../integration/postfix-load.sh"
