-- negotiate-lean.lua: miltertest script, what milter-suppress negotiates
-- with signing and the ledger off: the RCPT verdict needs no headers and
-- no sender change, so neither is asked for; removing recipients (mail
-- not received over SMTP) still is.  Prints "ok - ..." or "not ok - ..."
-- per check.  Expects SOCK (the milter's socket) from miltertest -D.

local function check(desc, cond)
    if cond then mt.echo("ok - " .. desc) else mt.echo("not ok - " .. desc) end
end

local conn = mt.connect(SOCK, 20, 0.25)
check("lean: miltertest connects to the milter", conn ~= nil)
if conn == nil then os.exit(1) end

check("lean: no headers (ledger off)", mt.test_option(conn, SMFIP_NOHDRS))
check("lean: no body", mt.test_option(conn, SMFIP_NOBODY))
check("lean: no end of headers", mt.test_option(conn, SMFIP_NOEOH))
check("lean: no HELO", mt.test_option(conn, SMFIP_NOHELO))
check("lean: no DATA", mt.test_option(conn, SMFIP_NODATA))
-- Neither connect nor MAIL: their facts come as RCPT macros.
check("lean: no connect", mt.test_option(conn, SMFIP_NOCONNECT))
check("lean: no MAIL (signing off: {mail_addr} is enough)", mt.test_option(conn, SMFIP_NOMAIL))
check("lean: may ask for macros", mt.test_action(conn, SMFIF_SETSYMLIST))
check("lean: RCPT is sent", not mt.test_option(conn, SMFIP_NORCPT))
check("lean: may not change the sender (signing off)", not mt.test_action(conn, SMFIF_CHGFROM))
check("lean: may remove recipients (non-SMTP mail)", mt.test_action(conn, SMFIF_DELRCPT))

check("lean: RCPT macros of client and sender accepted",
      mt.macro(conn, SMFIC_RCPT, "{client_addr}", "IPv6:2001:db8::7", "{client_port}", "40002",
               "{mail_addr}", "lean@example.org") == nil)
check("lean: blocked@ still refused", mt.rcptto(conn, "<blocked@example.com>") == nil
      and mt.getreply(conn) == SMFIR_REPLYCODE)
-- A message whose recipients were all refused ends without an abort to
-- the milter; the next one's RCPT brings its own sender.
check("lean: the next message's RCPT macros accepted",
      mt.macro(conn, SMFIC_RCPT, "{client_addr}", "IPv6:2001:db8::7", "{client_port}", "40002",
               "{mail_addr}", "next@example.org") == nil)
check("lean: blocked@ refused in the next message", mt.rcptto(conn, "<blocked@example.com>") == nil
      and mt.getreply(conn) == SMFIR_REPLYCODE)
mt.disconnect(conn)
