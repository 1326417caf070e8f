-- verdicts.lua: miltertest script, per-recipient verdicts of milter-suppress
-- straight over the milter protocol (no MTA).  Prints "ok - ..." or
-- "not ok - ..." per check; the shell test counts them.
-- Expects SOCK (the milter's socket) from miltertest -D.

local function check(desc, cond)
    if cond then mt.echo("ok - " .. desc) else mt.echo("not ok - " .. desc) end
end

local function rcpt(conn, addr)
    if mt.rcptto(conn, addr) ~= nil then
        mt.echo("not ok - mt.rcptto " .. addr .. " failed")
        return nil
    end
    return mt.getreply(conn)
end

local conn = mt.connect(SOCK, 20, 0.25)
check("miltertest connects to the milter", conn ~= nil)
if conn == nil then os.exit(1) end

-- What the milter negotiated: no steps it does not need, and of the
-- actions only removing recipients (for mail not received over SMTP) and
-- changing the sender (the signed return path).  The headers come, for
-- the ledger's Message-ID (ledger.enable, the default), without a reply
-- to each.
check("negotiated: no HELO", mt.test_option(conn, SMFIP_NOHELO))
check("negotiated: headers (the ledger needs the Message-ID)", not mt.test_option(conn, SMFIP_NOHDRS))
check("negotiated: no reply to each header", mt.test_option(conn, SMFIP_NR_HDR))
check("negotiated: no body", mt.test_option(conn, SMFIP_NOBODY))
check("negotiated: RCPT is sent", not mt.test_option(conn, SMFIP_NORCPT))
check("negotiated: no header changes", not mt.test_action(conn, SMFIF_ADDHDRS))
check("negotiated: may remove recipients (non-SMTP mail)", mt.test_action(conn, SMFIF_DELRCPT))
check("negotiated: may change the sender (signing)", mt.test_action(conn, SMFIF_CHGFROM))

-- Connect is not asked for: the client comes as RCPT macros, as Postfix
-- and Sendmail send them once the milter asked (smfi_setsymlist).  MAIL
-- is, without a reply: signing (on by default) keeps the sender as the
-- client wrote it.
check("negotiated: no connect (the client comes with RCPT)", mt.test_option(conn, SMFIP_NOCONNECT))
check("negotiated: MAIL, without a reply (signing)", not mt.test_option(conn, SMFIP_NOMAIL)
      and mt.test_option(conn, SMFIP_NR_MAIL))
check("negotiated: may ask for macros", mt.test_action(conn, SMFIF_SETSYMLIST))
check("MAIL FROM accepted", mt.mailfrom(conn, "<sender@example.org>") == nil)
check("RCPT macros of the client accepted",
      mt.macro(conn, SMFIC_RCPT, "{client_addr}", "192.0.2.7", "{client_port}", "40001") == nil)

check("ok@ -> continue", rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE)
check("blocked@ -> reply code (rejected)", rcpt(conn, "<blocked@example.com>") == SMFIR_REPLYCODE)
check("next recipient in the same message -> continue",
      rcpt(conn, "<ok2@example.com>") == SMFIR_CONTINUE)
check("Blocked@EXAMPLE.com -> rejected (normalized)",
      rcpt(conn, "<Blocked@EXAMPLE.com>") == SMFIR_REPLYCODE)
check("expired@ -> continue", rcpt(conn, "<expired@example.com>") == SMFIR_CONTINUE)
check("not an address -> continue", rcpt(conn, "<not an address>") == SMFIR_CONTINUE)
check("complained@ -> rejected", rcpt(conn, "<complained@example.com>") == SMFIR_REPLYCODE)

-- A second message on the same connection: the sender is reset.
check("abort accepted", mt.abort(conn) == nil)
check("second MAIL FROM accepted", mt.mailfrom(conn, "<other@example.org>") == nil)
check("second message's RCPT macros accepted",
      mt.macro(conn, SMFIC_RCPT, "{client_addr}", "192.0.2.7", "{client_port}", "40001") == nil)
check("blocked@ in the second message -> rejected",
      rcpt(conn, "<blocked@example.com>") == SMFIR_REPLYCODE)

mt.disconnect(conn)
