/*
 * store_squeeze.c: raw deflate with a preset dictionary for the texts of
 * suppression records (store_squeeze.h), on zlib.  Each thread keeps its
 * own deflate and inflate streams (made on first use, freed when the
 * thread ends): a thread pays zlib's set-up and the dictionary's loading
 * once, not per record.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store_squeeze.h"

/*
 * Dictionary 1: standard wordings of bounce responses from the MTAs and
 * providers our detectors know (Postfix, qmail, Exchange/Office 365,
 * Gmail, Yahoo), the classifier's reason names and our own sources.
 * Deflate finds matches closest to the input cheapest, so the commonest
 * (Postfix's and Gmail's "user unknown") come last.  Byte 1 is where the
 * record put the recipient's address (store_record.c).  NEVER CHANGE a
 * byte of it: every record written with it needs it to be read.
 */
static const char dictionary_1[] =
    "Your message to this recipient was rejected because the sender is on a block l"
    "ist.  "
    "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org;  "
    "The recipient's inbox is out of storage space. Please direct the recipient to "
    "https://support.google.com/mail/?p=OverQuotaPerm  "
    "452 4.2.2 The email account that you tried to reach is over quota. Please dire"
    "ct the recipient to https://support.google.com/mail/?p=OverQuotaTemp  "
    "550 5.7.26 This mail has been blocked because the sender is unauthenticated. G"
    "mail requires all senders to authenticate with either SPF or DKIM.  "
    "550 5.7.1 [IP] Our system has detected that this message is likely unsolicited"
    " mail. To reduce the amount of spam sent to Gmail, this message has been block"
    "ed. https://support.google.com/mail/?p=UnsolicitedMessageError  "
    "552 5.2.2 Mailbox full; quota exceeded; over quota; mailbox is full; Disk quot"
    "a exceeded  "
    "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [ "
    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address"
    " lookup  "
    "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found  "
    "550 5.5.0 Requested action not taken: mailbox unavailable  "
    "554 delivery error: dd This user doesn't have a yahoo.com account ( "
    "554 delivery error: dd Sorry your message to  cannot be delivered. This mailbo"
    "x is disabled (554.30). - mta "
    "552 1 Requested mail action aborted, mailbox not found  "
    "550 Requested action not taken: mailbox unavailable (in reply to RCPT TO comma"
    "nd) "
    "550 5.1.1 <\001>: Recipient address rejected: User unknown in local recipient "
    "table "
    "550 5.1.1 <\001>: Recipient address rejected: User unknown in virtual alias ta"
    "ble "
    "550 No Such User Here; Unrouteable address; unknown user; no mailbox here by t"
    "hat name; user unknown; mailbox does not exist; address rejected; Invalid reci"
    "pient; Bad destination mailbox address  "
    "Sorry, I couldn't find any host named . (#5.1.2) Sorry, no mailbox here by tha"
    "t name. (#5.1.1)  "
    "Host or domain name not found. Name service error for name= type=MX: Host not "
    "found, try again "
    "Connection timed out; Connection refused; lost connection with  while sending "
    "RCPT TO; (in reply to end of DATA command) "
    " said: 550 5.1.1 < "
    " said: 550-5.1.1 The email account that you tried to reach does not exist. Ple"
    "ase try double-checking the recipient's email address for typos or unnecessary"
    " spaces. For more information, go to https://support.google.com/mail/?p=NoSuch"
    "User - gsmtp "
    "550 5.1.1 The email account that you tried to reach does not exist. Please try"
    " double-checking the recipient's email address for typos or unnecessary spaces"
    ". Learn more at https://support.google.com/mail/?p=NoSuchUser  - gsmtp "
    "suppressctl import manual complaint unsubscribe feedback abuse spamdetected bl"
    "ocked policyviolation securityerror rejected filtered suspend hasmoved hostunk"
    "nown mailboxfull mesgtoobig exceedlimit notaccept norelaying expired networker"
    "ror systemerror systemfull toomanyconn contenterror syntaxerror undefined vaca"
    "tion onhold 5.7.1 5.2.1 5.2.2 5.1.2 5.1.10 5.0.0 4.2.2  "
    "suppress-ingest userunknown 5.1.1 550 5.1.1 <\001>: Recipient address rejected"
    ": User unknown in virtual mailbox table "
    ;

#define WINDOW_BITS 13          /* 8 KB: the dictionary and a whole record's texts */
#define MEM_LEVEL   2           /* small hash tables: inputs are short */

struct streams {
    z_stream primed;            /* deflate with the dictionary loaded, never used itself */
    z_stream inf;
    bool def_ready, inf_ready;
};

static pthread_key_t streams_key;
static pthread_once_t streams_once = PTHREAD_ONCE_INIT;

static void streams_free(void *p)
{
    struct streams *s = p;

    if (s->def_ready)
        deflateEnd(&s->primed);
    if (s->inf_ready)
        inflateEnd(&s->inf);
    free(s);
}

static void streams_key_make(void)
{
    (void) pthread_key_create(&streams_key, streams_free);
}

static struct streams *thread_streams(void)
{
    struct streams *s;

    (void) pthread_once(&streams_once, streams_key_make);
    if ((s = pthread_getspecific(streams_key)) != NULL)
        return s;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    if (pthread_setspecific(streams_key, s) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

const unsigned char *store_squeeze_dictionary(unsigned dict, size_t *len)
{
    if (dict != 1)
        return NULL;
    *len = sizeof(dictionary_1) - 1;
    return (const unsigned char *) dictionary_1;
}

/*
 * Loading the dictionary costs ~10 us (deflate hashes every byte of it),
 * copying a stream that has it ~1 us: each thread loads it once into
 * `primed` and deflates with a copy.
 */
int store_squeeze(const unsigned char *in, size_t len, unsigned char *out, size_t cap,
                  size_t *outlen)
{
    struct streams *s = thread_streams();
    size_t dlen;
    const unsigned char *dict = store_squeeze_dictionary(STORE_SQUEEZE_DICT, &dlen);
    z_stream def;
    int ret;

    if (s == NULL)
        return -1;
    if (!s->def_ready) {
        if (deflateInit2(&s->primed, Z_BEST_COMPRESSION, Z_DEFLATED, -WINDOW_BITS, MEM_LEVEL,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            return -1;
        if (deflateSetDictionary(&s->primed, dict, (uInt) dlen) != Z_OK) {
            deflateEnd(&s->primed);
            return -1;
        }
        s->def_ready = true;
    }
    if (deflateCopy(&def, &s->primed) != Z_OK)
        return -1;
    if (cap > len)
        cap = len;              /* not smaller: not worth it */
    def.next_in = (Bytef *) in;
    def.avail_in = (uInt) len;
    def.next_out = out;
    def.avail_out = (uInt) cap;
    ret = deflate(&def, Z_FINISH);
    *outlen = cap - def.avail_out;
    deflateEnd(&def);
    if (ret == Z_STREAM_END)
        return 0;
    return ret == Z_OK || ret == Z_BUF_ERROR ? 1 : -1;
}

int store_unsqueeze(unsigned dict_id, const unsigned char *in, size_t len, unsigned char *out,
                    size_t cap, size_t *outlen)
{
    struct streams *s = thread_streams();
    size_t dlen;
    const unsigned char *dict = store_squeeze_dictionary(dict_id, &dlen);
    int ret;

    if (s == NULL || dict == NULL)
        return -1;
    if (!s->inf_ready) {
        if (inflateInit2(&s->inf, -WINDOW_BITS) != Z_OK)
            return -1;
        s->inf_ready = true;
    } else if (inflateReset(&s->inf) != Z_OK) {
        return -1;
    }
    /* A raw stream takes its dictionary before the data. */
    if (inflateSetDictionary(&s->inf, dict, (uInt) dlen) != Z_OK)
        return -1;
    s->inf.next_in = (Bytef *) in;
    s->inf.avail_in = (uInt) len;
    s->inf.next_out = out;
    s->inf.avail_out = (uInt) cap;
    ret = inflate(&s->inf, Z_FINISH);
    if (ret != Z_STREAM_END || s->inf.avail_in != 0)
        return -1;
    *outlen = cap - s->inf.avail_out;
    return 0;
}
