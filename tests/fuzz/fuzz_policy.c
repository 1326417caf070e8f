/*
 * fuzz_policy.c: libFuzzer harness for the Postfix policy-protocol
 * request parser (milter/policy_proto.c): the input is what a client
 * wrote on one connection; requests are parsed one after the other as the
 * policy service does, and each reply formatted.  A parse that says DONE
 * must have used between 1 and the bytes there were; the harness aborts
 * when it did not.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "policy_proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *) data;
    struct policy_request *req = malloc(sizeof(*req));
    char reply[POLICY_REPLY_MAX];
    size_t used;
    SUP_ERR err;

    if (req == NULL)
        return 0;
    while (size > 0 && policy_parse(buf, size, req, &used, &err) == POLICY_PARSE_DONE) {
        if (used == 0 || used > size)
            abort();
        if (policy_format_action("550", "5.1.1", req->recipient, reply, sizeof(reply)) >= sizeof(reply))
            abort();
        buf += used;
        size -= used;
    }
    free(req);
    return 0;
}
