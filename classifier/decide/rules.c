/*
 * rules.c: the rule table that turns a remote server's response into a
 * reason (Sisimai's reason names), the enhanced-status-code table, and the
 * phrase lists that say "temporary" or "permanent" whatever the code says.
 * Used by classify.c; each row is tested by tests/unit/check_rules.c.
 *
 * How a text is matched: it is lowercased, runs of white space become one
 * space and typographic apostrophes become "'"; then the rows are tried in
 * table order and the FIRST row that matches decides.  The order is by
 * specificity, so a narrow phrase sits above a broad one that would also
 * match ("relay access denied" above "access denied", "mailbox full" above
 * "recipient address rejected").  The sections:
 *
 *   0. providers' documented error codes (Orange "OFR_416", Cox "AUP#...",
 *      GoDaddy "IB104"): exact, whatever the words around them;
 *   1. the state of the mailbox itself: full, message too big, disabled,
 *      moved -- the most specific thing a server can say;
 *   2. precise technical refusals: relaying, SPF/DKIM/DMARC, missing PTR,
 *      reputation, RFC violations, content format, local mailer errors;
 *   3. the address does not exist;
 *   4. the recipient refused (filters), the sender was refused, then the
 *      recipient's domain does not exist (below the sender rows, so that
 *      "domain of sender address ... does not exist" stays a sender
 *      problem);
 *   5. viruses, spam, rate limits, then broad "blocked" phrases;
 *   6. policy, security, system and network trouble;
 *   7. phrases that only say the message waited too long.
 *
 * Match kinds: SUB is a substring; SEQ is substrings that must appear in
 * this order with anything between them, written "a*b" (e.g. "mailbox*full"
 * covers "mailbox is full", "mailbox full" and "mailbox currently full");
 * REGEX is a POSIX extended regular expression, used only where the others
 * cannot say it (word boundaries, alternatives of codes); it comes with a
 * hint, literals one of which the text must contain, so the (slow) regex
 * runs only on candidate texts.  Regexes are compiled once, on first use.
 *
 * Every row carries a sample: a realistic response that must reach that
 * very row (not an earlier one).  check_rules.c verifies it, so a row that
 * an earlier row shadows, or that matches nothing, fails make check.
 *
 * The phrases were learned from real bounces and from Sisimai's (BSD-2)
 * reason classes; provider-specific codes are the providers' documented
 * error codes (Orange/La Poste "LPN007_416", Cox/Spectrum "AUP#...").
 */
#include "config.h"

#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

enum match_kind {
    MATCH_SUB,      /* substring */
    MATCH_SEQ,      /* "a*b*c": substrings in this order */
    MATCH_REGEX,    /* POSIX ERE on the normalized text */
};

typedef struct rule {
    const char *reason;
    enum match_kind kind;
    const char *pattern;    /* lowercase, single spaces */
    const char *sample;     /* a response that must reach this row */
    const char *hint;       /* REGEX only: literals, "a|b", one of which the text
                             * must contain (checked first, cheaply) */
} RULE;

#define SUB(r, p, s)   { r, MATCH_SUB, p, s, NULL }
#define SEQ(r, p, s)   { r, MATCH_SEQ, p, s, NULL }
#define REGEX(r, h, p, s) { r, MATCH_REGEX, p, s, h }

static const RULE rule_table[] = {
    /* ---- 0. providers' documented error codes ---------------------- */
    /* Each names its cause exactly, so it beats any wording around it
     * (Cox's "sender rejected ... AUP#CDRBL" is an IP block, not a sender
     * problem).  Sources: the providers' postmaster pages. */
    /* Orange and La Poste (France): "OFR_416", "LPN007_416", "OFR005_505". */
    REGEX("userunknown", "_41", "(ofr|lpn)[0-9]*_41[68]", "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416"),
    REGEX("mailboxfull", "_417", "(ofr|lpn)[0-9]*_417", "452 Boite du destinataire pleine. Recipient mailbox full. OFR_417"),
    REGEX("suspend", "_42", "(ofr|lpn)[0-9]*_42[06]", "550 Boite du destinataire archivee. Archived recipient. LPN007_420"),
    REGEX("rejected", "_4", "(ofr|lpn)[0-9]*_4(03|05|15|21)", "553 5.1.8 Emetteur invalide. Invalid Sender. LPN105_405"),
    REGEX("securityerror", "_305|_402", "(ofr|lpn)[0-9]*_(305|402)", "550 Authentification requise. Authentication Required. LPN105_402"),
    REGEX("toomanyconn", "_104", "(ofr|lpn)[0-9]*_104", "421 Trop de connexions. Too many connections. OFR004_104"),
    REGEX("blocked", "_10|_401|_510|_999", "(ofr|lpn)[0-9]*_(10[123]|107|401|510|999)", "421 mwinf ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_999 [999]"),
    REGEX("systemerror", "_505", "(ofr|lpn)[0-9]*_505", "421 4.2.0 Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR005_505 [505]"),
    REGEX("spamdetected", "_506", "(ofr|lpn)[0-9]*_506", "550 5.2.0 Mail rejete. Mail rejected. OFR_506 [506]"),
    REGEX("mesgtoobig", "_514", "(ofr|lpn)[0-9]*_514", "552 Taille limite du message atteinte. Message too big. OFR_514"),
    REGEX("policyviolation", "_517|_630", "(ofr|lpn)[0-9]*_(517|630)", "554 5.7.1 Client host rejected: #216 lpn LPN000_630"),
    /* Cox ("AUP#CXBL") and Spectrum ("AUP#In-1310", "AUP#Out-1000"). */
    REGEX("blocked", "aup#", "aup#(cdrbl|cxbl|cxdns|ipbl[0-9]+)", "550 5.1.0 <bounce@example.com> sender rejected. Refer to Error Codes section. AUP#CDRBL"),
    REGEX("spamdetected", "aup#", "aup#urlbl[0-9]+", "552 URL in message blocked. AUP#URLBL011"),
    REGEX("rejected", "aup#", "aup#cx(sndr|smtp)", "550 sender rejected. AUP#CXSNDR"),
    REGEX("securityerror", "aup#", "aup#cx(thrt|mj)", "550 sending limited. AUP#CXTHRT"),
    REGEX("toomanyconn", "aup#", "aup#(cxcnct|cxmxrt|(in|out)-1(3[0-9]|4[0-9]|5[45])[0-9])", "550 5.1.0 <bounce@example.com> sender rejected. AUP#In-1310"),
    REGEX("blocked", "aup#", "aup#(in|out)-1(000|1[0-5][0-9]|2[0-5][0-9])", "550 IP blocked. AUP#In-1000"),
    REGEX("rejected", "aup#", "aup#(in|out)-1(0[1-8][0-9]|5[02]0)", "550 account blocked from sending. AUP#Out-1010"),
    /* GoDaddy (secureserver.net): "IB103" ... */
    REGEX("blocked", "ib10|ib11", "(^|[^a-z0-9])ib(10[3-6]|108|11[0-3])([^0-9]|$)", "554 Connection refused. This IP is listed on the Spamhaus Block List (SBL). IB104"),
    REGEX("speeding", "ib504|ib607", "(^|[^a-z0-9])ib(504|607)([^0-9]|$)", "550 This IP has sent too many messages this hour. IB504"),
    REGEX("toomanyconn", "ib007|ib510", "(^|[^a-z0-9])ib(007|510)([^0-9]|$)", "421 Connection refused, too many sessions from This IP. IB007"),
    REGEX("spamdetected", "ib212", "(^|[^a-z0-9])ib212([^0-9]|$)", "552 This message has been rejected due to content judged to be spam by the Internet community. IB212"),
    REGEX("rejected", "ib50", "(^|[^a-z0-9])ib50[1268]([^0-9]|$)", "550 Blank From: addresses are not allowed. Please provide a valid From. IB501"),
    REGEX("virusdetected", "ib705", "(^|[^a-z0-9])ib705([^0-9]|$)", "552 Virus infected message rejected. IB705"),

    /* ---- 1. the mailbox itself ------------------------------------- */
    /* Our own sending account hit its provider's limits (Amazon SES):
     * "quota exceeded" here is not the recipient's mailbox. */
    SUB("toomanyconn", "throttling failure", "454 Throttling failure: Daily message quota exceeded."),
    /* The recipient's storage is exhausted: temporary by nature. */
    SUB("mailboxfull", "mailbox full", "552 5.2.2 <bob@example.org>: Recipient address rejected: Mailbox full"),
    SEQ("mailboxfull", "mailbox*is full", "User's mailbox is full: <bob@example.org> Unable to deliver mail."),
    SEQ("mailboxfull", "mailbox*exceeded*limit", "The number of messages in recipient's mailbox exceeded the local limit."),
    SEQ("mailboxfull", "mailbox*quota", "452 4.2.2 Mailbox quota exceeded for this recipient"),
    SUB("mailboxfull", "mailbox exceeds allowed size", "User mailbox exceeds allowed size"),
    SUB("mailboxfull", "mailbox size limit", "552 mailbox size limit exceeded"),
    SUB("mailboxfull", "storage limit", "552 Account storage limit"),
    SUB("mailboxfull", "mailbox would exceed", "552 mailbox would exceed maximum allowed storage"),
    SUB("mailboxfull", "mailfolder is full", "The e-mail message could not be delivered because the user's mailfolder is full."),
    SUB("mailboxfull", "full mailbox", "450 4.2.2 Full mailbox, try again later"),
    SEQ("mailboxfull", "over*quota", "The email account that you tried to reach is over quota."),
    SEQ("mailboxfull", "quota*exceeded", "552 5.2.2 <bob@example.org> Quota exceeded"),
    SEQ("mailboxfull", "exceed*quota", "550 the account is exceeding their quota"),
    SEQ("mailboxfull", "disk*quota", "Disk quota reached for user bob"),
    SUB("mailboxfull", "quota violation", "552 Quota violation for bob@example.org"),
    SUB("mailboxfull", "exceeded storage allocation", "552 5.2.2 Requested mail action aborted: exceeded storage allocation"),
    SEQ("mailboxfull", "enough*space", "550 mailbox does not have enough space"),
    SUB("mailboxfull", "no space left on device", "write error: No space left on device"),
    SUB("mailboxfull", "insufficient disk space", "452 insufficient disk space for the user"),
    SUB("mailboxfull", "too many messages on the server", "user has too many messages on the server"),
    SUB("mailboxfull", "space has been used up", "550 the user's space has been used up"),
    SUB("mailboxfull", "exceeding receiving limits", "account disabled temporarly for exceeding receiving limits"),
    SUB("mailboxfull", "too much mail data", "552 Too much mail data"),

    /* The message is larger than the recipient (exceedlimit) or the
     * system (mesgtoobig) accepts. */
    SUB("exceedlimit", "message header size exceeds limit", "552 5.3.4 Message header size exceeds limit"),
    SUB("exceedlimit", "recipsizelimit", "#550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient ##"),
    SUB("exceedlimit", "message too large for this recipient", "550 message too large for this recipient"),
    SUB("mesgtoobig", "message too big", "552 5.3.4 Message too big for system"),
    SUB("mesgtoobig", "message too large", "552 5.3.4 Message too large"),
    SUB("mesgtoobig", "message file too big", "552 5.3.4 Error: message file too big"),
    SEQ("mesgtoobig", "message size exceeds", "552 5.3.4 Message size exceeds fixed maximum message size"),
    SEQ("mesgtoobig", "message length exceeds", "552 5.2.3 Message length exceeds administrative limit"),
    SUB("mesgtoobig", "exceeded maximum inbound message size", "553 Exceeded maximum inbound message size"),
    SUB("mesgtoobig", "maximum incoming message size", "552 Message exceeded the maximum incoming message size"),
    SUB("mesgtoobig", "max message size exceeded", "552 Max message size exceeded"),
    SUB("mesgtoobig", "maximum email size", "552 maximum email size exceeded"),
    SUB("mesgtoobig", "size limit", "Mail size limit exceeded. For explanation visit http://postmaster.example.com/"),
    SUB("mesgtoobig", "line limit exceeded", "500 Line limit exceeded"),
    SUB("mesgtoobig", "taille limite du message atteinte", "552 Taille limite du message atteinte"),

    /* The mailbox exists but is disabled: not an unknown address. */
    SUB("suspend", "mailbox unavailable or access denied", "550 Mailbox unavailable or access denied"),
    SEQ("suspend", "account*is disabled", "The email account that you tried to reach is disabled."),
    SEQ("suspend", "account*inactive", "The email account that you tried to reach is inactive."),
    SUB("suspend", "account has been disabled", "This account has been disabled or discontinued [#102]."),
    SEQ("suspend", "account*suspended", "550 This account has been temporarily suspended"),
    SUB("suspend", "is currently suspended", "550 bob@example.org is currently suspended"),
    SUB("suspend", "has been suspended", "550 mailbox has been suspended"),
    SUB("suspend", "mailbox currently suspended", "550 Mailbox currently suspended - please contact the owner"),
    SUB("suspend", "mailbox disabled", "550 5.2.1 Mailbox disabled, not accepting messages"),
    SUB("suspend", "mailbox is disabled", "550 this mailbox is disabled"),
    SUB("suspend", "disabled recipient", "525 5.7.13 Disabled recipient address"),
    SUB("suspend", "mailbox is frozen", "550 Mailbox is frozen. See http://mail.example.net/err/3/"),
    SUB("suspend", "user suspended", "550 User suspended: bob"),
    SUB("suspend", "temporary locked", "550 5.7.1 <bob@example.org>: Recipient address rejected: User bob@example.org temporary locked. Please try again later!"),
    SUB("suspend", "account is locked", "vdelivermail: account is locked email bounced"),
    SUB("suspend", "deactivated mailbox", "550 bob@example.org is a deactivated mailbox"),
    SUB("suspend", "inactive account", "550 Inactive account"),
    SUB("suspend", "invalid/inactive user", "550 Invalid/inactive user"),
    SUB("suspend", "user is terminated", "550 bob@example.org is unavailable: user is terminated"),
    SUB("suspend", "archived recipient", "550 Archived recipient"),
    SUB("suspend", "recipient rejected: temporarily inactive", "550 Recipient rejected: Temporarily inactive"),
    SUB("suspend", "user or domain is disabled", "550 User or domain is disabled"),
    SUB("suspend", "account disabled", "550 Account disabled"),
    SUB("suspend", "recipient suspend the service", "550 recipient suspend the service"),
    SUB("suspend", "extended inactivity", "550 due to extended inactivity new mail is not currently being accepted for this mailbox"),

    /* The address was valid once and its owner told the server so. */
    SUB("hasmoved", "no longer on server", "550 5.1.6 recipient no longer on server: bob@example.org"),
    SUB("hasmoved", " has been replaced by ", "550 5.1.6 address bob@example.org has been replaced by bob@example.net"),
    SUB("hasmoved", "not our customer", "551 not our customer"),
    SUB("hasmoved", "user has moved", "551 User has moved; please try <bob@example.net>"),

    /* ---- 2. precise technical refusals ----------------------------- */
    SUB("norelaying", "relay access denied", "554 5.7.1 <bob@example.org>: Relay access denied"),
    SUB("norelaying", "relaying denied", "550 5.7.1 <bob@example.org>... Relaying denied"),
    SUB("norelaying", "relay denied", "550 relay denied"),
    SUB("norelaying", "relay not permitted", "554 Relay not permitted"),
    SUB("norelaying", "no relaying", "553 sorry, no relaying allowed"),
    SUB("norelaying", "insecure mail relay", "550 Insecure Mail Relay"),
    SUB("norelaying", "not configured to relay", "501 5.7.1 This system is not configured to relay mail"),
    SUB("norelaying", "unable to relay", "550 5.7.1 Unable to relay for bob@example.org"),
    SUB("norelaying", "not allowed to relay", "550 not allowed to relay through this machine"),
    SUB("norelaying", "to relay through this server without authentication", "550 bob@example.org is not permitted to relay through this server without authentication"),
    SUB("norelaying", "not an open relay", "553 we are not an open relay, so get lost"),
    SUB("norelaying", "open relay not allowed", "550 open relay not allowed"),
    SUB("norelaying", "relaying mail to", "550 relaying mail to example.org is not allowed"),
    SUB("norelaying", "as a relay", "554 this host is not used as a relay"),
    SUB("norelaying", "we don't handle mail for", "550 we don't handle mail for example.org"),
    SUB("norelaying", "send to a non-local e-mail address", "530 this mail server requires authentication when attempting to send to a non-local e-mail address"),
    SUB("norelaying", "not a gateway", "550 not a gateway"),
    SUB("norelaying", "not local host", "550 not local host example.org"),
    SUB("securityerror", "you don't authenticate", "553 sorry, you don't authenticate or the domain isn't in my list of allowed rcpthosts"),
    SUB("norelaying", "domain isn't in my list of allowed rcpthost", "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"),

    /* SPF, DKIM, DMARC, Sender ID: the sending domain failed authentication. */
    SUB("authfailure", "dmarc policy", "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy."),
    SEQ("authfailure", "not pass*dmarc", "550 message does not pass DMARC"),
    SUB("authfailure", "dmarc verification", "550 message failed DMARC verification"),
    SUB("authfailure", "spf policy", "550 5.7.1 Message rejected due to SPF policy"),
    SEQ("authfailure", "spf*hard fail", "550-5.7.26 The MAIL FROM domain [mail.example.com] has an SPF record with a hard fail policy (-all) but it fails to pass SPF checks with the ip: [192.0.2.1]."),
    SEQ("authfailure", "fail*spf check", "550 message failed SPF checks"),
    SUB("authfailure", "spf check: fail", "550 5.7.1 SPF check: fail"),
    SUB("authfailure", "spf check failed", "550 SPF check failed"),
    SUB("authfailure", "dmarc check failed", "550 DMARC check failed"),
    SUB("authfailure", "sender policy framework", "550 5.7.1 Sender Policy Framework (SPF) fail"),
    SUB("authfailure", "bad spf records", "550 bad SPF records for example.com"),
    SUB("authfailure", "spf settings", "550 please inspect your SPF settings"),
    SUB("authfailure", "spf validation", "550 5.7.23 SPF validation failed"),
    SEQ("authfailure", "not allowed to send from <*spf record", "550 192.0.2.1 is not allowed to send from <example.com> per it's SPF Record"),
    SUB("authfailure", "sender id (pra)", "550 5.7.1 Sender ID (PRA) Not Permitted"),
    SUB("authfailure", "//spf.pobox.com", "550 see http://spf.pobox.com/why.html"),
    SUB("authfailure", "sender is unauthenticated", "550 5.7.26 This mail has been blocked because the sender is unauthenticated."),
    SUB("authfailure", "does not have authentication information", "550-5.7.1 This message does not have authentication information or fails to pass authentication checks."),
    SUB("authfailure", "fails to pass authentication checks", "550 the message fails to pass authentication checks"),
    SUB("authfailure", "required authentication level", "550 5.7.26 message doesn't meet the required authentication level"),
    SUB("authfailure", "5322.from address doesn't meet the authentication", "550 5.7.515 Access denied, the 5322.From address doesn't meet the authentication requirements defined for the sender"),
    SEQ("authfailure", "dkim*did not pass", "550 Authentication results: DKIM = did not pass SPF [example.com] with ip: [192.0.2.1] = did not pass"),
    SUB("authfailure", "no passing dkim signature", "550 5.7.20 No passing DKIM signature found"),

    /* The sending IP has no (or an inconsistent) reverse DNS name. */
    SUB("requireptr", "ptr record", "550-5.7.25 The IP address sending this message does not have a PTR record setup"),
    SUB("requireptr", "reverse dns", "554 5.7.1 Reverse DNS lookup failed for host 192.0.2.1"),
    SUB("requireptr", "ip name lookup failed", "450 4.7.1 Access denied. IP name lookup failed [192.0.2.1]"),
    SUB("requireptr", "cannot find your hostname", "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]"),
    SUB("requireptr", "cannot resolve your address", "550 cannot resolve your address."),
    SUB("requireptr", "bad dns ptr", "550 Bad DNS PTR resource record"),
    SUB("requireptr", "unresolvable relay host name", "550 Unresolvable relay host name"),
    SUB("requireptr", "rdns", "551 Server access forbidden by invalid RDNS record of your mail server"),
    SUB("requireptr", "sender ip reverse lookup rejected", "550 Sender IP reverse lookup rejected"),
    SUB("requireptr", "generic dns ptr", "550 we do not accept mail from hosts with dynamic IP or generic DNS PTR-records"),
    SEQ("requireptr", "domain *mismatches client ip", "550 domain [example.com] mismatches client ip 192.0.2.1."),
    SEQ("requireptr", "unverifyable sending ip", "550 this service permits no unverifyable sending IPs"),

    /* The sender's IP or domain has a poor reputation score. */
    SUB("badreputation", "ip reputation", "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation."),
    SUB("badreputation", "unexpected volume or user complaints", "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints"),
    SUB("badreputation", "poor reputation", "550 rejected because of the sending MTA's poor reputation"),
    SUB("badreputation", "reputation score", "550 a poor email reputation score"),
    SUB("badreputation", "bad reputation", "554 IP=192.0.2.1 - none/bad reputation"),
    SUB("badreputation", "domain reputation", "550 IP/domain reputation problems"),
    SUB("badreputation", "very low reputation", "550 message likely suspicious due to the very low reputation of the sending domain"),

    /* The message breaks the message format standards. */
    SUB("notcompliantrfc", "rfc 5322 compliant", "550 5.7.1 This message is not RFC 5322 compliant."),
    SUB("notcompliantrfc", "rfcmessagenoncompliant", "550 see https://support.google.com/mail/?p=RfcMessageNonCompliant"),
    SEQ("notcompliantrfc", "multiple addresses in*header", "550-5.7.1 Messages with multiple addresses in From: header are not accepted."),
    SUB("notcompliantrfc", "duplicate header", "554 5.6.0 Duplicate header field"),
    SEQ("notcompliantrfc", " multiple * header", "554 message has multiple Subject header fields"),

    /* The content cannot be carried: headers, MIME, 8-bit. */
    SUB("contenterror", "improper use of 8-bit data", "550 5.6.9 improper use of 8-bit data in message header"),
    SUB("contenterror", "headers too large", "552 5.6.0 Headers too large (32768 max)"),
    SUB("contenterror", "header size exceeds maximum", "552 Header size exceeds maximum permitted"),
    SUB("contenterror", "invalid mime", "554 this message contain invalid MIME headers"),
    SUB("contenterror", "message is malformed", "554 mail message is malformed. Not accepted"),
    SUB("contenterror", "mime complexity", "552 message MIME complexity exceeds the policy maximum"),
    SUB("contenterror", "improperly-formatted binary content", "554 this message contain improperly-formatted binary content"),
    SUB("contenterror", "unnecessary base64 encoding", "554 this message contain text that uses unnecessary base64 encoding"),
    SUB("contenterror", "too many received: headers", "554 5.4.6 routing loop detected -- too many received: headers"),
    SUB("contenterror", "recipient list, exceeds policy limit", "552 message header size, or recipient list, exceeds policy limit"),

    /* A local delivery program failed: whatever it printed after. */
    SUB("mailererror", "procmail", "procmail: Couldn't create \"/var/spool/mail/bob\""),
    SUB("mailererror", "maildrop", "maildrop: Unable to create a dot-lock"),
    SUB("mailererror", "pipe to |", "pipe to |/usr/local/bin/handler bob@example.org"),
    SUB("mailererror", "command died with status", "Command died with status 75: \"/usr/bin/handler\""),
    SUB("mailererror", "command failed:", "command failed: /usr/bin/handler"),
    SUB("mailererror", "command output:", "Command output: handler: cannot open input"),
    SUB("mailererror", "mailer error", "554 5.3.0 unknown mailer error 255"),
    SUB("mailererror", "|| exit ", "554 \"|IFS=' ' && exec /usr/bin/handler || exit 75 #bob\"... Service unavailable"),
    SUB("mailererror", "x-unix;", "X-Unix; 255"),
    SUB("mailererror", "operating system error", "451 4.0.0 Operating system error"),


    /* ---- 3. the address does not exist ----------------------------- */
    /* Except: au (KDDI)'s reception filter answers "550 : User unknown",
     * naming no address (its directory names it: "550 <bob@...>: User
     * unknown"): the recipient's filter refused us, not the directory. */
    REGEX("filtered", " : user unknown", "(^|[^a-z0-9@>.])[45][0-9][0-9] : user unknown", "550 : User unknown"),
    /* Microsoft rejects unknown recipients at the edge with this text. */
    SUB("userunknown", "recipient address rejected: access denied", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)"),
    SUB("userunknown", "recipientnotfound", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"),
    SUB("userunknown", "recipnotfound", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"),
    SUB("userunknown", "user unknown", "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in local recipient table"),
    SUB("userunknown", "unknown user", "550 Unknown user bob@example.org"),
    SUB("userunknown", "unknown recipient", "Unknown Recipient"),
    SUB("userunknown", "recipient unknown", "550 5.1.1 Recipient unknown"),
    SUB("userunknown", "unknown mailbox", "550 unknown mailbox"),
    SUB("userunknown", "unknown local part", "550 Unknown local part bob in <bob@example.org>"),
    SEQ("userunknown", "unknown e*mail address", "550 unknown e-mail address"),
    SUB("userunknown", "address unknown", "550 Address unknown"),
    SUB("userunknown", "user not known", "550 user not known"),
    SUB("userunknown", "user not found", "550 User not found"),
    SUB("userunknown", "user not exist", "550 <bob@example.org>... User not exist"),
    SUB("userunknown", "user does not exist", "550 5.1.1 user does not exist"),
    SEQ("userunknown", "user * does not exist", "550 Recipient address rejected: user bob@example.org does not exist"),
    SEQ("userunknown", "user * not found", "550 user bob was not found"),
    SEQ("userunknown", "user * not listed in", "User Bob Smith (bob@example.org) not listed in Domino Directory"),
    SUB("userunknown", "not listed in public name & address book", "User not listed in public Name & Address Book"),
    SUB("userunknown", "no such user", "550 No Such User Here"),
    SUB("userunknown", "no such recipient", "550 no such recipient here"),
    SUB("userunknown", "no such mailbox", "550 no such mailbox"),
    SUB("userunknown", "no such address", "550 no such address here"),
    SUB("userunknown", "no such person", "550 no such person at this address"),
    SUB("userunknown", "no mailbox here by that name", "550 sorry, no mailbox here by that name (#5.1.1 - chkusr)"),
    SUB("userunknown", "no mailbox by that name", "550 no mailbox by that name is currently available"),
    SUB("userunknown", "no mailbox found", "550 no mailbox found"),
    SUB("userunknown", "no account by that name", "550 no account by that name here"),
    SEQ("userunknown", "mailbox*not found", "552 1 Requested mail action aborted, mailbox not found"),
    SEQ("userunknown", "mailbox*does not exist", "550 5.1.1 Mailbox does not exist"),
    SUB("userunknown", "mailbox unavailable", "550 5.5.0 Requested action not taken: mailbox unavailable"),
    SUB("userunknown", "mailbox unavaiable", "550 Requested action not taken: mailbox unavaiable"),
    SUB("userunknown", "mailbox is unavailable", "550 mailbox is unavailable"),
    SUB("userunknown", "mailbox not present", "550 mailbox not present"),
    SUB("userunknown", "mailbox invalid", "550 mailbox invalid"),
    SUB("userunknown", "mailbox is inactive", "550 mailbox is inactive"),
    SUB("userunknown", "invalid mailbox", "550 5.1.1 invalid mailbox"),
    SUB("userunknown", "invalid recipient", "553 Invalid recipient bob@example.org (Mode: normal)"),
    SUB("userunknown", "invalid address", "550 5.1.1 Invalid address"),
    SUB("userunknown", "invalid user", "550 Invalid user address"),
    SUB("userunknown", "inactive email address", "550 5.1.1 <bob@example.org>: inactive email address"),
    SUB("userunknown", "invalid final delivery userid", "Invalid final delivery userid"),
    SUB("userunknown", "address wasn't found at the destination", "The email address wasn't found at the destination domain. It might be misspelled or it might not exist any longer."),
    SUB("userunknown", "email account that you tried to reach does not exist", "The email account that you tried to reach does not exist."),
    SEQ("userunknown", "this user doesn't have a * account", "This user doesn't have a yahoo.com account"),
    SEQ("userunknown", "the address couldn't be found", "** Address not found ** Your message wasn't delivered to bob@example.org because the address couldn't be found."),
    SUB("userunknown", "address does not exist", "550 5.1.1 Recipient address does not exist"),
    SUB("userunknown", "account does not exist", "550 Account does not exist"),
    SUB("userunknown", "address not present in directory", "550 address not present in directory"),
    SUB("userunknown", "recipient does not exist", "550 Recipient does not exist"),
    SUB("userunknown", "recipient not found", "550 Recipient not found"),
    SUB("userunknown", "recipient not exist", "550 recipient not exist"),
    SEQ("userunknown", "recipient * was not found in", "550 recipient bob@example.org was not found in the directory"),
    SUB("userunknown", "recipient is not local", "550 recipient is not local"),
    /* Postfix's bare refusal of an unlisted recipient: nothing after it. */
    REGEX("userunknown", "recipient address rejected", "recipient address rejected\\.?( \\(in reply to rcpt to command\\))?$", "550 <bob@example.org>: Recipient address rejected. (in reply to RCPT TO command)"),
    SUB("userunknown", "recipient address rejected: invalid", "550 Recipient address rejected: Invalid-recipient"),
    SUB("userunknown", "is not a valid mailbox", "550 bob@example.org is not a valid mailbox"),
    SUB("userunknown", "not a valid recipient", "550 bob@example.org is not a valid recipient"),
    SUB("userunknown", "not a valid user", "550 not a valid user here"),
    SUB("userunknown", "is not a known user", "550 bob@example.org is not a known user"),
    SUB("userunknown", "not an active address", "550 bob is not an active address at this host"),
    SUB("userunknown", "there is no one at this address", "550 there is no one at this address"),
    SUB("userunknown", "no longer valid", "550 this email address is wrong or no longer valid"),
    SUB("userunknown", "address no longer accepts mail", "550 this address no longer accepts mail"),
    SUB("userunknown", "badrcptto", "553 sorry, your envelope recipient is in my badrcptto list (#5.7.1)"),
    SUB("userunknown", "not in my validrcptto list", "553 sorry, this recipient is not in my validrcptto list (#5.7.1)"),
    SUB("userunknown", "destination addresses were unknown", "550 all destination addresses were unknown"),
    SUB("userunknown", "no valid recipients for this", "Error: No valid recipients for this MM"),
    SEQ("userunknown", "no *in name directory", "550 no bob in name directory"),
    SEQ("userunknown", "non*existent user", "550 nonexistent user"),
    SUB("userunknown", "user missing home directory", "550 user missing home directory"),
    SUB("userunknown", "invalid or unknown virtual user", "vdeliver: Invalid or unknown virtual user 'bob'"),
    SUB("userunknown", "utilisateur inconnu", "550 Utilisateur inconnu !"),
    SUB("userunknown", "nessun utente simile", "550 nessun utente simile in questo indirizzo"),
    SUB("userunknown", "no existe dicha persona", "550 no existe dicha persona"),
    SUB("userunknown", "adresse nicht gefunden", "550 weil die Adresse nicht gefunden wurde oder keine E-Mails empfangen kann"),

    /* ---- 4. the recipient refused, the sender was refused ----------- */
    /* The recipient's own settings refuse the message. */
    SUB("filtered", "refused due to recipient preferences", "550 5.1.1 RCP-P2 Refused due to recipient preferences"),
    SUB("filtered", "message filtered", "550 5.2.0 Message Filtered"),
    SUB("filtered", "message rejected due to user rules", "550 Message rejected due to user rules"),
    SUB("filtered", "user refuses to receive", "550 user refuses to receive this mail"),
    SUB("filtered", "user reject", "550 user reject"),
    SUB("filtered", "blocked by the recipient", "550 you have been blocked by the recipient"),
    SUB("filtered", "only accepting mail from specific", "554 recipient is only accepting mail from specific email addresses"),
    SUB("filtered", "is not accepting any mail", "550 bob@example.org is not accepting any mail"),
    SUB("filtered", "account is protected by", "550 account is protected by a challenge-response system"),
    SUB("filtered", "has restricted sms e-mail", "550 bob has restricted SMS e-mail"),
    SUB("filtered", "refuse to receive mail", "550 recipient id refuse to receive mail"),
    SUB("filtered", "recipient refuses to accept your mail", "550 recipient refuses to accept your mail"),
    SUB("filtered", "resolver.rst.notauthorized", "550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized"),

    /* The server refused the sender (envelope or header From). */
    SUB("rejected", "sender address rejected", "501 5.1.8 Sender address rejected"),
    SUB("rejected", "sender rejected", "550 5.1.0 <bounce@example.com> sender rejected."),
    SUB("rejected", "sender email address rejected", "550 sender email address rejected"),
    SUB("rejected", "envelope blocked", "550 envelope blocked - sender not allowed"),
    SUB("rejected", "bouncedeny", "550 denied [BounceDeny]"),
    SUB("rejected", "senderfilterconfig", "550 email address is on SenderFilterConfig list"),
    SUB("rejected", "recursive cname records", "550 RFC 1035 violation: recursive cname records for example.net"),
    SUB("rejected", "rule imposed mailbox access for", "550 Rule imposed mailbox access for bob@example.org refused"),
    SUB("rejected", "does not accept mail from", "550 this server does not accept mail from bob@example.net"),
    SUB("rejected", "empty email address", "501 syntax error: empty email address"),
    SUB("rejected", "invalid domain, see <url:", "553 invalid domain, see <URL:http://www.example.org/>"),
    SUB("rejected", "submit messages to this e-mail system has been rejected", "550 your access to submit messages to this e-mail system has been rejected"),
    SUB("rejected", "sender was rejected", "Connected to 192.0.2.1 but sender was rejected."),
    SUB("rejected", "sender verify failed", "550 Sender verify failed"),
    SUB("rejected", "invalid sender", "553 Invalid sender"),
    SUB("rejected", "domain of sender address", "553 5.1.8 Domain of sender address bob@example.net does not exist"),
    SUB("rejected", "unroutable sender address", "550 Unroutable sender address"),
    SUB("rejected", "sender domain is empty", "550 sender domain is empty"),
    SUB("rejected", "null sender is not allowed", "550 null sender is not allowed"),
    SUB("rejected", "empty envelope senders not allowed", "550 empty envelope senders not allowed"),
    SUB("rejected", "returned mail not accepted here", "550 returned mail not accepted here"),
    SUB("rejected", "bogus mail from", "553 bogus mail from"),
    SUB("rejected", "no third-party dsns", "550 Error: no third-party DSNs"),
    SUB("rejected", "purported responsible address", "550 5.7.1 can't determine Purported Responsible Address"),
    SUB("rejected", "from: domain is invalid", "550 5.2.0 <bob@example.net> From: Domain is invalid. Please provide a valid From:"),
    SUB("rejected", "fully qualified email address required", "553 fully qualified email address required"),
    SUB("rejected", "mail from not owned by user", "550 mail from not owned by user"),
    SUB("rejected", "email address is not verified", "554 Message rejected: Email address is not verified."),
    SUB("rejected", "sender address has been blacklisted", "550 sender address has been blacklisted"),
    SUB("rejected", "email address has been blacklisted", "553 your email address has been blacklisted"),
    SUB("rejected", "to/from an address that has been blacklisted", "Sorry, you are sending to/from an address that has been blacklisted"),
    SUB("rejected", "sender is in my black list", "550 sender is in my black list"),
    SUB("rejected", "sender is spammer", "550 sender is spammer"),
    SUB("rejected", "sender not pre-approved", "550 sender not pre-approved"),
    SUB("rejected", "sender blacklisted", "550 Access denied (sender blacklisted)"),
    SUB("rejected", "on the recipient's list of senders", "550 because the sender isn't on the recipient's list of senders to accept mail from"),
    SUB("rejected", "not a registered gateway user", "550 'bob@example.org' is not a registered gateway user"),
    SUB("rejected", "not a member of this", "You are not a member of this mailing list <list@example.org>."),
    SUB("rejected", "not allowed to post to this", "550 you are not allowed to post to this mailing list"),
    SEQ("rejected", "group you tried to contact*may not exist", "We're writing to let you know that the group you tried to contact (list) may not exist, or you may not have permission to post messages to the group."),
    SUB("rejected", "groups.google.com/support", "If you have questions related to this or any other Google Group, visit the Help Center at https://groups.google.com/support/."),
    SUB("rejected", "batv", "553 recipient not accepted. (BATV: no tag)"),
    SUB("rejected", "backscatter protection", "550 Backscatter protection detected an invalid or expired email address"),
    SUB("rejected", "unsigned dsn", "550 transaction failed unsigned DSN for bob@example.org"),
    SUB("rejected", "administrative prohibition", "550 administrative prohibition"),
    SUB("rejected", "spam reporting address", "550 previously marked the spam reporting address"),
    SUB("rejected", "from a different address or alias using the", "You're sending this from a different address or alias using the 'Send mail as' feature."),
    /* Our relay requires SMTP AUTH of the sender and the next hop cannot
     * do it (Google Workspace's SMTP relay service). */
    SUB("rejected", "does not advertise auth capability", "Unspecified Error (SENT_SECOND_EHLO): Smtp server does not advertise AUTH capability"),
    SUB("rejected", "delivery not authorized, message refused", "554 5.7.1 Delivery not authorized, message refused"),
    SUB("rejected", "all recipient addresses rejected", "550 5.4.1 All recipient addresses rejected : Access denied"),

    /* The recipient's domain does not exist or has no mail route. */
    SUB("hostunknown", "host unknown", "550 5.1.2 <bob@example.org>... Host unknown (Name server: example.org: host not found)"),
    SUB("hostunknown", "unknown host", "no valid recipients were found for this message bob@example.org ... unknown host"),
    SUB("hostunknown", "host or domain name not found", "Host or domain name not found. Name service error for name=example.org type=AAAA: Host not found"),
    SUB("hostunknown", "no such domain", "No such domain."),
    SUB("hostunknown", "domain does not exist", "Domain does not exist"),
    SUB("hostunknown", "domain not found", "450 4.1.2 <bob@example.org>: Recipient address rejected: Domain not found"),
    SUB("hostunknown", "domain must exist", "550 recipient domain must exist"),
    SUB("hostunknown", "domain is not reachable", "554 The mail could not be delivered to the recipient because the domain is not reachable."),
    SUB("hostunknown", "unrouteable address", "550 Unrouteable address"),
    SUB("hostunknown", "unroutable address", "550 unroutable address"),
    SUB("hostunknown", "invalid domain", "550 5.4.4 Invalid domain"),
    SUB("hostunknown", "illegal host/domain name", "Illegal host/domain name found"),
    SUB("hostunknown", "unknown domain", "550 Recipient address rejected: Unknown domain name"),
    SUB("hostunknown", "name or service not known", "connect: Name or service not known"),
    SUB("hostunknown", "mail domain mentioned in email address is unknown", "550 mail domain mentioned in email address is unknown"),
    SUB("hostunknown", "account or domain may not exist", "550 the account or domain may not exist"),

    /* ---- 5. spam, rate limits, blocks ------------------------------- */
    SUB("virusdetected", "virus detected", "550 Virus Detected; Content Rejected"),
    REGEX("virusdetected", "virus|malware", "(^|[^a-z])(virus|malware)[^a-z]+(found|infected)", "554 5.7.0 message rejected: virus found: Eicar-Test-Signature"),
    SUB("virusdetected", "infected with a virus", "550 your message was infected with a virus"),
    SUB("virusdetected", "potentially executable attachment", "550 rejected because it has a potentially executable attachment"),
    SUB("virusdetected", "used by recent viruses", "552 this form of attachment has been used by recent viruses or other malware"),
    SUB("virusdetected", "prohibited virus or spam content", "554 the message was rejected because it contains prohibited virus or spam content"),
    SUB("virusdetected", "rejected due to security policies", "554 email rejected due to security policies - MCSpamSignature.sa.2.2"),

    SUB("spamdetected", "message content rejected", "550 5.7.1 Message content rejected, UBE, id=00000-00-000"),
    SUB("spamdetected", " - spam", "554 5.7.0 Reject, id=22222-22 - SPAM. See http://www.example.com/"),
    SUB("spamdetected", "spam detected", "554 spam detected"),
    SUB("spamdetected", "detected as spam", "550 your message was detected as spam"),
    SUB("spamdetected", "classified as spam", "550 this message was classified as spam"),
    SUB("spamdetected", "identified as spam", "550 this message has been identified as spam"),
    SUB("spamdetected", "scored as spam", "550 this message has been scored as spam with a probability of 98"),
    SUB("spamdetected", "considered spam", "550 your email is considered spam"),
    SUB("spamdetected", "looks like spam", "550 message looks like spam"),
    SUB("spamdetected", "looked like spam", "550 the content of this message looked like spam"),
    SUB("spamdetected", "appears to be spam", "550 this message appears to be spam"),
    SUB("spamdetected", "seems to be a spam", "550 message is being rejected as it seems to be a spam"),
    SUB("spamdetected", "probably spam", "550 your email is probably spam"),
    SUB("spamdetected", "probable spam", "550 probable spam"),
    SUB("spamdetected", "rejected as spam", "550 message rejected as spam"),
    SUB("spamdetected", "rejected due to spam", "Your email to group list@example.org was rejected due to spam classification."),
    SUB("spamdetected", "spam message rejected", "550 spam message rejected."),
    SUB("spamdetected", "spam not accepted", "550 spam not accepted"),
    SUB("spamdetected", "spam refused", "550 spam refused"),
    SUB("spamdetected", "spam blocked", "550 spam blocked"),
    SUB("spamdetected", "spam rejection", "550 spam rejection"),
    SUB("spamdetected", "spam score", "550 spam score too high"),
    SUB("spamdetected", "spam content", "550 message rejected due to suspected spam content"),
    SUB("spamdetected", "spam-like", "550 related to content with spam-like characteristics"),
    SUB("spamdetected", "spamassassin", "550 blocked by SpamAssassin"),
    SUB("spamdetected", "high probability of spam", "550 high probability of spam"),
    SUB("spamdetected", "probability of being spam", "550 our filters rate at and above 90 percent probability of being spam"),
    SUB("spamdetected", "spam check", "550 failed spam check"),
    SUB("spamdetected", "unsolicited", "550 mail appears to be unsolicited"),
    SUB("spamdetected", "bulk e-mail", "550 rejected: bulk e-mail not accepted"),
    SUB("spamdetected", "bulk email", "550 rejected - bulk email"),
    SUB("spamdetected", "classification as bulk mail", "550 the message was rejected due to classification as bulk mail"),
    SUB("spamdetected", "blacklisted url", "REJECTED - Blacklisted URL in message."),
    SUB("spamdetected", "uribl", "550 your email breaches local URIBL policy"),
    SUB("spamdetected", "mail content denied", "550 Mail content denied"),
    SUB("spamdetected", "rejecting banned content", "554 rejecting banned content"),
    SUB("spamdetected", "unacceptable content", "550 message rejected because of unacceptable content"),
    SUB("spamdetected", "content filter rejection", "550 content filter rejection"),
    SUB("spamdetected", "triggered a spam block", "550 your message has triggered a spam block"),
    SUB("spamdetected", "blocked by our filter", "550 your message has been temporarily blocked by our filter"),
    SUB("spamdetected", "spamprofiler", "550 message refused by MailMarshal SpamProfiler"),
    SUB("spamdetected", "recurrent pattern detection", "550 this message was rejected by Recurrent Pattern Detection System"),
    SUB("spamdetected", "too many spam complaints", "550 too many spam complaints"),
    SUB("spamdetected", "spam is embedded", "550 spam is embedded in the email"),
    SEQ("spamdetected", "this message scored * spam points", "550 this message scored 12.3 spam points"),

    /* Too many messages too quickly: temporary by nature. */
    SUB("speeding", "receiving mail at a rate that prevents additional messages", "The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered."),
    SUB("speeding", "please try again slower", "451 4.7.1 <mx.example.org[192.0.2.1]>: Client host rejected: Please try again slower"),
    SUB("speeding", "sent to too many recipients", "550 5.1.1 <bob@example.org> - 192.0.2.1 has sent to too many recipients this hour."),
    SUB("speeding", "rate limited", "421 mail sent from your IP address has been temporarily rate limited"),
    SUB("toomanyconn", "too many connections", "421 Too many connections from your host."),
    SUB("toomanyconn", "too many concurrent", "421 4.3.2 too many concurrent SMTP connections"),
    SUB("toomanyconn", "connection rate limit", "452 4.3.2 Connection rate limit exceeded."),
    SUB("toomanyconn", "connection limit", "421 exceeds per-domain connection limit for example.org"),
    SUB("toomanyconn", "frequency limited", "550 Ip frequency limited [Blocked IP 192.0.2.1]"),
    SUB("toomanyconn", "too many recipients", "552 Too many recipients"),
    SUB("toomanyconn", "too many smtp sessions", "421 too many SMTP sessions for this host"),
    SUB("toomanyconn", "too many errors from your ip", "421 too many errors from your ip"),
    SUB("toomanyconn", "already made numerous attempts to deliver", "421 we have already made numerous attempts to deliver this message"),
    SUB("toomanyconn", "max emails per hour", "550 bob@example.org has exceeded the max emails per hour (1000) allowed"),
    SUB("toomanyconn", "trop de connexions", "421 Trop de connexions, veuillez reessayer plus tard"),

    /* The sending IP or host is refused: blocklists, bad HELO, policy at
     * connection time. */
    SUB("blocked", "blocked using", "554 5.7.1 Client host rejected: blocked using dnsbl.example.net"),
    REGEX("blocked", "listed", "(ip|host|address|server)[^;]{0,60} (is|are|was) (black)?listed (in|on|at|by)", "550 5.7.1 the sending IP 192.0.2.1 is listed in bl.example.net"),
    SUB("blocked", "spamhaus", "553 http://www.spamhaus.org/query/bl?ip=192.0.2.1"),
    SUB("blocked", "spamcop", "550 blocked, see http://www.spamcop.net/bl.shtml?192.0.2.1"),
    SUB("blocked", "dnsbl", "554 rejected by DNSBL"),
    SUB("blocked", "blacklisted by", "550 IP address blacklisted by recipient"),
    SUB("blocked", "blacklisted", "550 5.7.1 IP address blacklisted"),
    SUB("blocked", "is in a black list", "550 192.0.2.1 is in a black list"),
    SUB("blocked", "block list", "550 part of their network is on our block list"),
    SUB("blocked", "blocklist", "550 your IP is on our blocklist"),
    REGEX("blocked", "rbl", "(^|[^a-z])rbl([^a-z]|$)", "550 rejected, see our RBL policy"),
    SUB("blocked", "banned sending ip", "550 5.7.606 Access denied, banned sending IP [192.0.2.1]."),
    SUB("blocked", "bad sender ip address", "550 bad sender ip address"),
    SUB("blocked", "sender ip address rejected", "550 sender ip address rejected"),
    SUB("blocked", "invalid ip for sending mail", "554 INVALID IP FOR SENDING MAIL OF DOMAIN example.com"),
    SUB("blocked", "not currently accepting mail from your ip", "550 we are not currently accepting mail from your ip"),
    SUB("blocked", "hosts with dynamic ip", "550 we do not accept mail from hosts with dynamic ip addresses"),
    SUB("blocked", "dynamic ip", "550 we do not accept mail from dynamic IPs"),
    SUB("blocked", "dynamic/zombied", "550 dynamic/zombied/spam IPs blocked"),
    SUB("blocked", "client host rejected", "450 4.7.1 <mx.example.org[192.0.2.1]>: Client host rejected: may not be mail exchanger"),
    SUB("blocked", "client host blocked", "550 Client host blocked for spamming issues."),
    SUB("blocked", "adresse ip source bloquee", "550 Adresse IP source bloquee pour incident de spam."),
    SUB("blocked", "helo command rejected", "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"),
    SUB("blocked", "my name was rejected", "Connected to 192.0.2.1 but my name was rejected."),
    SUB("blocked", "not allowed to connect", "554 you are not allowed to connect"),
    SUB("blocked", "not accepting connections", "554 mx.example.org ESMTP not accepting connections"),
    SUB("blocked", "open proxy", "550 rejecting open proxy"),
    SUB("blocked", "smtp server of your isp", "550 please use the smtp server of your isp"),
    SUB("blocked", "looks suspiciously like spammer", "550 sorry, your remotehost looks suspiciously like spammer"),
    SUB("blocked", "you are sending spam", "550 you are sending spam"),
    SUB("blocked", "currently sending spam", "550 your ip is currently sending spam see: http://www.example.org/"),
    SUB("blocked", "too many spams from your ip", "421 too many spams from your ip"),
    SUB("blocked", "confirm this mail server", "550 please confirm this mail server"),
    SUB("blocked", "server requires confirmation", "550 your server requires confirmation"),
    SUB("blocked", "go away", "554 go away"),
    SUB("blocked", "connection reset by peer", "Remote protocol error: Connection reset by peer during result wait"),
    SUB("blocked", "blocked by", "550 message was blocked by the receiving server"),
    SEQ("blocked", "access from ip address * blocked", "550 access from ip address 192.0.2.1 blocked"),
    SEQ("blocked", "mail server at * is blocked", "550 the mail server at 192.0.2.1 is blocked"),
    SEQ("blocked", "messages from * deferred due to user complaints", "421 messages from 192.0.2.1 temporarily deferred due to user complaints"),
    SUB("blocked", "listed as abusive", "550 server ip 192.0.2.1 listed as abusive"),
    SUB("blocked", "service not available, closing transmission channel", "421 Service not available, closing transmission channel"),
    SUB("blocked", "after initial connection", "SMTP error from remote mail server after initial connection: 550 Access denied"),
    /* Proofpoint style "(BL)" tag of a blocklisted IP. */
    REGEX("blocked", "(bl)", "\\(bl\\)$", "554 IP=192.0.2.1 - A problem occurred. (Ask your postmaster for help) (BL)"),

    /* ---- 6. policy, security, system and network trouble ------------ */
    SUB("policyviolation", "policy reasons", "554 5.7.9 Message not accepted for policy reasons."),
    SUB("policyviolation", "policy violation", "550 5.7.0 Local Policy Violation"),
    SUB("policyviolation", "protocol violation", "550 Protocol violation"),
    /* Mimecast: the recipient organisation's permitted-senders policy. */
    SUB("policyviolation", "host network not allowed", "554 Host network not allowed - https://community.mimecast.com/docs/DOC-1369#554"),
    SUB("policyviolation", "denied by policy", "550 Denied by policy"),
    SUB("policyviolation", "local policy", "550 message rejected due to local policy"),
    SUB("policyviolation", "organization policy", "550 the message was rejected by organization policy"),
    SUB("policyviolation", "organizational settings", "550 message bounced due to organizational settings"),
    SUB("policyviolation", "header error", "554 5.7.9 Header error"),
    SUB("policyviolation", "header are not accepted", "550 messages with this header are not accepted"),
    SUB("policyviolation", "content presents a potential security issue", "552-5.7.0 This message was blocked because its content presents a potential security issue."),
    SUB("policyviolation", "illegal attachment", "552 5.7.0 Our system detected an illegal attachment on your message."),
    SUB("policyviolation", "members-only list", "550 posting by non-member to a members-only list"),
    SUB("policyviolation", "closed mailing list", "550 closed mailing list"),
    SUB("policyviolation", "not subscribed to this group", "550 the email address used to send your message is not subscribed to this group"),
    SUB("policyviolation", "mass mailer", "550 you're using a mass mailer"),
    SEQ("policyviolation", "allowable number of posts without solving a captcha", "550 you have exceeded the allowable number of posts without solving a captcha"),
    SUB("policyviolation", "message given low priority", "451 message given low priority"),
    SUB("policyviolation", "containing images or other attachments", "550 we do not accept messages containing images or other attachments"),
    SUB("policyviolation", "not accepting mail with", "554 because the recipient is not accepting mail with attachments"),

    SUB("securityerror", "authentication required", "#550 5.7.1 RESOLVER.RST.AuthRequired; authentication required"),
    SUB("securityerror", "authrequired", "550 5.7.1 RESOLVER.RST.AuthRequired"),
    SUB("securityerror", "smtp authentication", "550 Please turn on SMTP Authentication in your mail client."),
    SUB("securityerror", "unauthenticated senders not allowed", "550 Unauthenticated senders not allowed"),
    SUB("securityerror", "authentication failure", "535 5.7.8 authentication failure"),
    SUB("securityerror", "authentication failed", "SASL authentication failed; server mx.example.org said: 535 5.7.8 Error: authentication failed"),
    SUB("securityerror", "authentication credentials invalid", "535 5.7.8 Authentication credentials invalid"),
    SUB("securityerror", "incorrect authentication data", "535 Incorrect authentication data"),
    SUB("securityerror", "authentication is required", "530 you are not authorized to send mail, authentication is required"),
    SUB("securityerror", "executable files are not allowed", "552 executable files are not allowed in compressed files"),
    SUB("securityerror", "verification failure", "550 verification failure"),
    SUB("securityerror", "account not subscribed to ses", "554 Account not subscribed to SES"),
    SUB("securityerror", "is a dead domain", "550 domain example.org is a dead domain"),

    SUB("failedstarttls", "must issue a starttls", "530 5.7.0 Must issue a STARTTLS command first"),
    REGEX("failedstarttls", "starttls", "starttls[^.]{0,40}(fail|requir|error)", "451 4.7.5 STARTTLS failed: handshake error"),
    SUB("failedstarttls", "tls is required", "530 5.7.10 TLS is required"),
    SUB("failedstarttls", "tls required", "530 TLS required for rcpt domain, closing connection"),

    SUB("syntaxerror", "malformed address", "malformed address: <bob@example.org> may not follow bob@example.net"),
    SUB("syntaxerror", "improper sequence of commands", "503 Improper sequence of commands"),
    SUB("syntaxerror", "command parameter not implemented", "504 Command parameter not implemented"),
    SUB("syntaxerror", "syntax error", "501 5.5.2 Syntax error in parameters or arguments"),

    SUB("systemfull", "insufficient system storage", "452 Insufficient system storage"),
    SUB("systemfull", "mail system full", "452 4.3.1 Mail system full"),

    SUB("systemerror", "internal system error", "550 5.3.5 <bob@example.org>... Internal System Error"),
    SUB("systemerror", "service currently unavailable", "554 Service currently unavailable"),
    SUB("systemerror", "could not load drd", "451 Could not load DRD for domain (example.org)"),
    SUB("systemerror", "transaction failed", "554 Transaction failed"),
    SUB("systemerror", "local configuration error", "451 local configuration error"),
    SUB("systemerror", "local error in processing", "451 4.3.0 Requested action aborted: local error in processing"),
    SUB("systemerror", "configuration error", "451 mail system configuration error"),
    SUB("systemerror", "system config error", "451 system config error"),
    SUB("systemerror", "remote server is misconfigured", "550 remote server is misconfigured"),
    SUB("systemerror", "temporary local problem", "451 temporary local problem - please try later"),
    SUB("systemerror", "temporary system problem", "451 temporary system problem"),
    SUB("systemerror", "queue file write error", "451 queue file write error"),
    SUB("systemerror", "interrupted system call", "451 interrupted system call"),
    SUB("systemerror", "timeout waiting for input", "451 timeout waiting for input"),
    SUB("systemerror", "error while being processed", "550 it encountered an error while being processed"),
    SUB("systemerror", "internal error", "451 internal error reading data"),
    SUB("systemerror", "internal server error", "451 internal server error: operation now in progress"),
    SUB("systemerror", "loop was found in the mail exchanger", "554 a loop was found in the mail exchanger list"),
    SUB("systemerror", "insufficient permission", "550 5.0.0 <bob@example.org>... Insufficient permission"),
    SUB("systemerror", "ldap server", "Unable to contact LDAP server. (#4.4.3)"),
    SUB("systemerror", "duplicated message-id", "Duplicated Message-ID in <bob@example.org>."),
    SUB("systemerror", "aliasing/forwarding loop", "554 aliasing/forwarding loop broken"),
    SUB("systemerror", "would create a mail loop", "554 it would create a mail loop"),
    SUB("systemerror", "loops back to myself", "554 5.4.6 mail for example.org loops back to myself"),
    SUB("systemerror", "no mdb", "451 recipient deferred because there is no mdb"),
    SEQ("systemerror", "unable to connect *daemon", "451 unable to connect to the local daemon"),

    SUB("notaccept", "null mx", "The domain example.org doesn't receive email according to the administrator: returned Null MX"),
    SUB("notaccept", "nullmx", "556 5.1.10 example.org does not accept mail (nullMX)"),
    SUB("notaccept", "does not accept mail", "550 Host does not accept mail"),
    SUB("notaccept", "indicated no smtp service", "an MX or SRV record indicated no SMTP service"),
    SUB("notaccept", "couldn't find a mail exchanger", "Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)"),
    SUB("notaccept", "no mx record found", "554 no mx record found for domain=example.org"),
    SUB("notaccept", "mail receiving disabled", "550 mail receiving disabled"),
    SUB("notaccept", "no route for current request", "550 no route for current request"),

    SUB("networkerror", "dns query failed", "550 5.4.312 Message expired, DNS query failed(InfoNoRecords)"),
    SUB("networkerror", "dns error", "DNS Error: DNS type 'mx' lookup of example.org responded with code NXDOMAIN Domain name not found: example.org"),
    SUB("networkerror", "name server reply", "Name service error for name=example.org type=MX: Malformed or unexpected name server reply"),
    SUB("networkerror", "host not found, try again", "Name service error for domain example.org: Host not found, try again"),
    SUB("networkerror", "host name lookup failure", "Name server: example.org.: host name lookup failure"),
    SUB("networkerror", "dns records for the destination computer could not be found", "DNS records for the destination computer could not be found."),
    SUB("networkerror", "network error", "Network error on destination MXs"),
    SUB("networkerror", "lost connection", "lost connection with mx.example.org[192.0.2.1] while performing the HELO handshake"),
    SUB("networkerror", "wasn't able to establish an smtp connection", "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)"),
    SUB("networkerror", "could not connect and send the mail", "could not connect and send the mail to example.org"),
    SUB("networkerror", "no route to host", "connect to mx.example.org[192.0.2.1]:25: No route to host"),
    SUB("networkerror", "host is unreachable", "connect: host is unreachable"),
    SUB("networkerror", "too many hops", "554 5.4.6 Too many hops"),
    SUB("networkerror", "hop count exceeded", "Maximum hop count exceeded. Message probably in a routing loop."),
    SUB("networkerror", "routing loop", "message probably in a routing loop"),
    SUB("networkerror", "mail forwarding loop", "mail forwarding loop for bob@example.org"),
    SUB("networkerror", "forwarding loop count", "maximum forwarding loop count exceeded"),
    SUB("networkerror", "message looping", "554 message looping"),
    SUB("networkerror", "mail loop", "554 mail loop detected"),
    SUB("networkerror", "unable to resolve route", "unable to resolve route for example.org"),
    SUB("networkerror", "unrouteable mail domain", "unrouteable mail domain \"example.org\""),

    /* ---- 7. the message waited too long ------------------------------ */
    SUB("expired", "connection timed out", "connect to mx.example.org[192.0.2.1]:25: Connection timed out"),
    SUB("expired", "timed out", "The recipient server did not accept our requests to connect. [mx.example.org 192.0.2.1: timed out]"),
    SUB("expired", "retry timeout exceeded", "retry timeout exceeded"),
    SUB("expired", "did not accept our requests to connect", "The recipient server did not accept our requests to connect."),
    SUB("expired", "unable to connect successfully", "Unable to deliver message to the following recipients, due to being unable to connect successfully to the destination mail server."),
    SUB("expired", "host not reachable", "421 Host not reachable."),
    SUB("expired", "envelope expired", "Envelope expired"),
    SUB("expired", "message expired", "554 4.4.7 Message expired: unable to deliver in 840 minutes."),
    SUB("expired", "delivery expired", "delivery expired (message too old)"),
    SUB("expired", "delivery time expired", "delivery time expired"),
    SUB("expired", "delivery timeout", "Delivery timeout"),
    SUB("expired", "queue too long", "I'm not going to try again; this message has been in the queue too long."),
    SUB("expired", "has been delayed", "Delivery to the following recipients has been delayed."),
    SUB("expired", "could not be delivered for", "Your message could not be delivered for more than 5 days"),
    SEQ("expired", "not delivered within * days", "Your message was not delivered within 0 days and 1 hours."),
    SUB("expired", "unable to deliver this message after", "unable to deliver this message after 1 day"),
    SUB("expired", "unable to deliver message after multiple retries", "Unable to deliver message after multiple retries, giving up."),
    SUB("expired", "could not find a gateway for", "Could not find a gateway for bob@example.org"),
    SUB("expired", "giving up on", "giving up on 192.0.2.1"),
    SUB("expired", "failed to deliver to domain", "failed to deliver to domain example.org for 2 days"),
    SUB("expired", "server did not respond", "the server did not respond"),
    SUB("expired", "failing for a long time", "all hosts have been failing for a long time"),
    SUB("expired", "not reachable within the allowed queue period", "mx.example.org was not reachable within the allowed queue period"),
    SUB("expired", "delivery attempts will continue", "Delivery attempts will continue to be made for 2 days"),
    SUB("expired", "error encountered while communicating with primary target", "441 4.4.1 Error encountered while communicating with primary target IP address"),
    SUB("expired", "retry time not reached", "retry time not reached for any host after a long failure period"),
};

static const size_t rule_count = sizeof(rule_table) / sizeof(rule_table[0]);

/*
 * Enhanced status codes (RFC 3463 and the IANA registry) that name a
 * reason by themselves.  Codes that only give the class ("5.0.0") or say
 * too little ("4.7.0") are absent: rules_reason_for_status() returns NULL.
 * x.6.* falls back to contenterror and 5.7.* to securityerror below.
 */
typedef struct status_rule {
    const char *code;
    const char *reason;
} STATUS_RULE;

static const STATUS_RULE status_table[] = {
    { "2.1.5", "delivered" },       /* destination address valid */
    { "4.1.6", "hasmoved" },        /* mailbox has moved */
    { "4.1.7", "rejected" },        /* bad sender's mailbox address syntax */
    { "4.1.8", "rejected" },        /* bad sender's system address */
    { "4.1.9", "systemerror" },     /* relayed to non-compliant mailer */
    { "4.2.1", "blocked" },         /* mailbox disabled, temporarily */
    { "4.2.2", "mailboxfull" },
    { "4.2.3", "exceedlimit" },     /* message length exceeds administrative limit */
    { "4.2.4", "filtered" },        /* mailing list expansion problem */
    { "4.3.1", "systemfull" },
    { "4.3.2", "notaccept" },       /* system not accepting network messages */
    { "4.3.3", "systemerror" },
    { "4.3.5", "systemerror" },     /* system incorrectly configured */
    { "4.4.1", "expired" },         /* no answer from host */
    { "4.4.2", "networkerror" },    /* bad connection */
    { "4.4.3", "systemerror" },     /* directory server failure */
    { "4.4.4", "networkerror" },    /* unable to route */
    { "4.4.5", "systemfull" },      /* mail system congestion */
    { "4.4.6", "networkerror" },    /* routing loop */
    { "4.4.7", "expired" },         /* delivery time expired */
    { "4.5.3", "systemerror" },     /* too many recipients */
    { "4.5.5", "systemerror" },     /* wrong protocol version */
    { "4.7.1", "blocked" },         /* delivery not authorized */
    { "4.7.2", "blocked" },         /* mailing list expansion prohibited */
    { "4.7.5", "securityerror" },   /* cryptographic failure */
    { "4.7.24", "authfailure" },    /* SPF validation error */
    { "4.7.25", "requireptr" },     /* reverse DNS validation failed */
    { "4.7.26", "authfailure" },    /* multiple authentication checks failed */
    { "5.1.0", "userunknown" },     /* other address status */
    { "5.1.1", "userunknown" },     /* bad destination mailbox address */
    { "5.1.2", "hostunknown" },     /* bad destination system address */
    { "5.1.3", "userunknown" },     /* bad destination mailbox address syntax */
    { "5.1.4", "filtered" },        /* destination mailbox address ambiguous */
    { "5.1.6", "hasmoved" },        /* mailbox has moved, no forwarding address */
    { "5.1.7", "rejected" },        /* bad sender's mailbox address syntax */
    { "5.1.8", "rejected" },        /* bad sender's system address */
    { "5.1.9", "systemerror" },
    { "5.1.10", "notaccept" },      /* recipient address has null MX */
    { "5.2.0", "filtered" },        /* other mailbox status */
    { "5.2.1", "filtered" },        /* mailbox disabled, not accepting messages */
    { "5.2.2", "mailboxfull" },
    { "5.2.3", "exceedlimit" },
    { "5.2.4", "filtered" },
    { "5.3.0", "systemerror" },
    { "5.3.1", "systemfull" },
    { "5.3.2", "notaccept" },       /* system not accepting network messages */
    { "5.3.3", "systemerror" },
    { "5.3.4", "mesgtoobig" },
    { "5.3.5", "systemerror" },
    { "5.4.0", "networkerror" },
    { "5.4.3", "systemerror" },     /* directory server failure */
    { "5.4.4", "hostunknown" },     /* unable to route */
    { "5.4.6", "networkerror" },    /* routing loop */
    { "5.5.2", "syntaxerror" },
    { "5.5.3", "toomanyconn" },     /* too many recipients */
    { "5.5.4", "systemerror" },     /* invalid command arguments */
    { "5.5.5", "systemerror" },
    { "5.5.6", "syntaxerror" },
    { "5.7.13", "suspend" },        /* user account disabled */
    { "5.7.16", "mesgtoobig" },     /* too big for the specified priority */
    { "5.7.17", "hasmoved" },       /* mailbox owner has changed */
    { "5.7.18", "hasmoved" },       /* domain owner has changed */
    { "5.7.20", "authfailure" },    /* no passing DKIM signature */
    { "5.7.21", "authfailure" },
    { "5.7.22", "authfailure" },
    { "5.7.23", "authfailure" },    /* SPF validation failed */
    { "5.7.24", "authfailure" },
    { "5.7.25", "requireptr" },     /* reverse DNS validation failed */
    { "5.7.26", "authfailure" },    /* multiple authentication checks failed */
    { "5.7.27", "notaccept" },      /* sender address has null MX */
    { "5.7.28", "spamdetected" },   /* mail flood */
    { "5.7.29", "authfailure" },    /* ARC validation */
    { "5.7.30", "failedstarttls" }, /* REQUIRETLS support required */
};

/*
 * "Try later" and "never" phrases, for the class: a 5xx that says "try
 * again later" is soft, a 4xx that says the user does not exist is hard.
 * Careful with qmail's "I'm not going to try again", which is permanent:
 * the temporary phrases below all require "later", "slower" or
 * "temporar..." or name a retry.
 */
static const char *const temporary_phrases[] = {
    "try again later",
    "try later",
    "please try again",
    "retry later",
    "try again slower",
    "temporarily",
    "temporary",
    "temporarly",
    "transient",
    "greylist",
    "graylist",
    "will be retried",
    "will retry",
    "delivery attempts will continue",
    "resources temporarily unavailable",
    "veuillez essayer plus tard",
    "try to resend",
};

static const char *const permanent_phrases[] = {
    "permanent failure",
    "permanent error",
    "permanently",
    "failed permanently",
    "not going to try again",
    "will not be retried",
    "do not retry",
    "don't retry",
    "giving up",
};

/* ------------------------------------------------------------------ */

/*
 * Lowercase, collapse white space to single spaces (trimmed), and map
 * U+2018/U+2019 (a common apostrophe in provider texts) to "'".  Writes
 * into buf when it fits, else allocates; returns NULL only if allocation
 * fails.  *owned tells the caller to free().
 */
static char *normalize(const char *text, char *buf, size_t bufsize, bool *owned)
{
    size_t len = strlen(text);
    char *out = buf;

    *owned = false;
    if (len + 1 > bufsize) {
        out = malloc(len + 1);
        if (out == NULL)
            return NULL;
        *owned = true;
    }
    char *w = out;
    bool space = false;
    for (const unsigned char *r = (const unsigned char *) text; *r; r++) {
        unsigned char c = *r;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            space = true;
            continue;
        }
        if (space && w > out)
            *w++ = ' ';
        space = false;
        if (c == 0xE2 && r[1] == 0x80 && (r[2] == 0x98 || r[2] == 0x99)) {
            *w++ = '\'';
            r += 2;
            continue;
        }
        *w++ = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : (char) c;
    }
    *w = '\0';
    return out;
}

/* "a*b*c": each piece found after the end of the previous one. */
static bool match_sequence(const char *text, const char *pattern)
{
    const char *p = pattern;
    const char *t = text;

    while (*p) {
        const char *star = strchr(p, '*');
        size_t plen = star ? (size_t) (star - p) : strlen(p);
        if (plen > 0) {
            char piece[256];
            if (plen >= sizeof(piece))
                return false;
            memcpy(piece, p, plen);
            piece[plen] = '\0';
            const char *hit = strstr(t, piece);
            if (hit == NULL)
                return false;
            t = hit + plen;
        }
        if (star == NULL)
            break;
        p = star + 1;
    }
    return true;
}

/*
 * Speed: a response is tested against several hundred rows, so each row
 * first checks a cheap necessary condition.  The text's character pairs
 * (bigrams) are hashed into a small bitmap once; a row's literal (the
 * longest piece of a SUB/SEQ pattern, or one of a REGEX row's hint
 * literals) can only be in the text if all its sampled bigrams are in the
 * bitmap.  Most rows are ruled out by a few bit tests; strstr() and
 * regexec() run only for the few that pass.
 */
#define GRAM_BITS 4096
#define MAX_ALTS 4          /* hint alternatives "a|b|c|d" */
#define MAX_GRAMS 8         /* bigrams sampled per literal */

typedef struct gram_set {
    uint64_t bits[GRAM_BITS / 64];
} GRAM_SET;

typedef struct prefilter {
    unsigned char alts;                 /* 0: no condition */
    unsigned char grams[MAX_ALTS];
    uint16_t gram[MAX_ALTS][MAX_GRAMS];
} PREFILTER;

static PREFILTER rule_filter[sizeof(rule_table) / sizeof(rule_table[0])];
/* Compiled regexes, one slot per table row (unused for other kinds); a
 * pattern that does not compile never matches (check_rules.c fails). */
static regex_t rule_regex[sizeof(rule_table) / sizeof(rule_table[0])];
static bool rule_regex_ok[sizeof(rule_table) / sizeof(rule_table[0])];
static pthread_once_t rules_once = PTHREAD_ONCE_INIT;

static uint16_t gram_hash(unsigned char a, unsigned char b)
{
    return (uint16_t) (((unsigned) a * 131u + (unsigned) b) % GRAM_BITS);
}

static void grams_of_text(const char *text, GRAM_SET *set)
{
    memset(set, 0, sizeof(*set));
    for (const unsigned char *p = (const unsigned char *) text; p[0] && p[1]; p++) {
        uint16_t h = gram_hash(p[0], p[1]);
        set->bits[h / 64] |= (uint64_t) 1 << (h % 64);
    }
}

/* Sample up to MAX_GRAMS bigrams spread over literal[0..len) into alt. */
static void add_literal(PREFILTER *f, const char *literal, size_t len)
{
    if (f->alts >= MAX_ALTS || len < 2)
        return;
    unsigned char n = 0;
    size_t pairs = len - 1;
    size_t step = pairs > MAX_GRAMS ? pairs / MAX_GRAMS : 1;
    for (size_t i = 0; i < pairs && n < MAX_GRAMS; i += step)
        f->gram[f->alts][n++] = gram_hash((unsigned char) literal[i], (unsigned char) literal[i + 1]);
    f->grams[f->alts++] = n;
}

/* The longest '*'-separated piece of a SUB/SEQ pattern. */
static void longest_piece(const char *pattern, const char **piece, size_t *len)
{
    *piece = pattern;
    *len = 0;
    for (const char *p = pattern; *p;) {
        size_t l = strcspn(p, "*");
        if (l > *len) {
            *piece = p;
            *len = l;
        }
        p += l;
        if (*p == '*')
            p++;
    }
}

static void rules_init(void)
{
    for (size_t i = 0; i < rule_count; i++) {
        const RULE *r = &rule_table[i];
        PREFILTER *f = &rule_filter[i];

        memset(f, 0, sizeof(*f));
        if (r->kind == MATCH_REGEX) {
            rule_regex_ok[i] = regcomp(&rule_regex[i], r->pattern,
                                       REG_EXTENDED | REG_NOSUB) == 0;
            /* a hint with an alternative shorter than a bigram gives no
             * condition at all (the regex then always runs) */
            for (const char *h = r->hint; h != NULL && *h;) {
                size_t l = strcspn(h, "|");
                if (l < 2) {
                    f->alts = 0;
                    break;
                }
                add_literal(f, h, l);
                h += l;
                if (*h == '|')
                    h++;
            }
        } else {
            const char *piece;
            size_t len;
            longest_piece(r->pattern, &piece, &len);
            add_literal(f, piece, len);
        }
    }
}

static bool prefilter_passes(const PREFILTER *f, const GRAM_SET *set)
{
    if (f->alts == 0)
        return true;
    for (unsigned a = 0; a < f->alts; a++) {
        bool all = true;
        for (unsigned g = 0; g < f->grams[a] && all; g++) {
            uint16_t h = f->gram[a][g];
            all = (set->bits[h / 64] >> (h % 64)) & 1;
        }
        if (all)
            return true;
    }
    return false;
}

static bool rule_matches(size_t row, const char *norm)
{
    const RULE *r = &rule_table[row];

    switch (r->kind) {
    case MATCH_SUB:
        return strstr(norm, r->pattern) != NULL;
    case MATCH_SEQ:
        return match_sequence(norm, r->pattern);
    case MATCH_REGEX:
        return rule_regex_ok[row] && regexec(&rule_regex[row], norm, 0, NULL, 0) == 0;
    }
    return false;
}

/* Index of the first row matching the normalized text, or -1. */
static long first_matching_row(const char *norm)
{
    GRAM_SET set;

    pthread_once(&rules_once, rules_init);
    grams_of_text(norm, &set);
    for (size_t i = 0; i < rule_count; i++)
        if (prefilter_passes(&rule_filter[i], &set) && rule_matches(i, norm))
            return (long) i;
    return -1;
}

const char *rules_reason_for_text(const char *text)
{
    char buf[2048];
    bool owned;

    if (text == NULL || *text == '\0')
        return NULL;
    char *norm = normalize(text, buf, sizeof(buf), &owned);
    if (norm == NULL)
        return NULL;
    long row = first_matching_row(norm);
    if (owned)
        free(norm);
    return row < 0 ? NULL : rule_table[row].reason;
}

/* Does the text contain one of the phrases? */
static bool text_has_phrase(const char *text, const char *const *phrases, size_t count)
{
    char buf[2048];
    bool owned;
    bool found = false;

    if (text == NULL || *text == '\0')
        return false;
    char *norm = normalize(text, buf, sizeof(buf), &owned);
    if (norm == NULL)
        return false;
    for (size_t i = 0; i < count && !found; i++)
        found = strstr(norm, phrases[i]) != NULL;
    if (owned)
        free(norm);
    return found;
}

bool rules_text_says_temporary(const char *text)
{
    return text_has_phrase(text, temporary_phrases,
                           sizeof(temporary_phrases) / sizeof(temporary_phrases[0]));
}

bool rules_text_says_permanent(const char *text)
{
    return text_has_phrase(text, permanent_phrases,
                           sizeof(permanent_phrases) / sizeof(permanent_phrases[0]));
}

/* "5.1.1" shape: class digit, dot, 1-3 digits, dot, 1-3 digits. */
static bool status_well_formed(const char *s)
{
    if (!(s[0] == '2' || s[0] == '4' || s[0] == '5') || s[1] != '.')
        return false;
    const char *p = s + 2;
    for (int part = 0; part < 2; part++) {
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            p++;
            digits++;
        }
        if (digits == 0 || digits > 3)
            return false;
        if (part == 0 && *p++ != '.')
            return false;
    }
    return *p == '\0';
}

const char *rules_reason_for_status(const char *status)
{
    if (status == NULL || !status_well_formed(status))
        return NULL;
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
        if (strcmp(status_table[i].code, status) == 0)
            return status_table[i].reason;
    if (status[0] == '2')
        return "delivered";
    /* Subject 6 is always about the content; 5.7 about security or
     * policy (but 4.7.0 and 5.7.0 are as vague as 5.0.0). */
    if (status[2] == '6' && status[3] == '.')
        return "contenterror";
    if (status[0] == '5' && status[2] == '7' && status[3] == '.' && strcmp(status, "5.7.0") != 0)
        return "securityerror";
    return NULL;
}

/* Every reason name the project uses (Sisimai's). */
static const char *const reason_names[] = {
    "userunknown", "hostunknown", "hasmoved", "notaccept", "mailboxfull",
    "exceedlimit", "systemfull", "suspend", "filtered", "blocked",
    "rejected", "norelaying", "spamdetected", "virusdetected",
    "policyviolation", "securityerror", "authfailure", "badreputation",
    "requireptr", "contenterror", "mesgtoobig", "toomanyconn", "speeding",
    "syntaxerror", "notcompliantrfc", "networkerror", "systemerror",
    "mailererror", "expired", "onhold", "undefined", "feedback",
    "vacation", "delivered", "failedstarttls",
};

bool rules_is_reason(const char *name)
{
    if (name == NULL)
        return false;
    for (size_t i = 0; i < sizeof(reason_names) / sizeof(reason_names[0]); i++)
        if (strcmp(reason_names[i], name) == 0)
            return true;
    return false;
}
