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
check("lean: connect and MAIL without a reply", mt.test_option(conn, SMFIP_NR_CONN)
      and mt.test_option(conn, SMFIP_NR_MAIL))
check("lean: RCPT is sent", not mt.test_option(conn, SMFIP_NORCPT))
check("lean: may not change the sender (signing off)", not mt.test_action(conn, SMFIF_CHGFROM))
check("lean: may remove recipients (non-SMTP mail)", mt.test_action(conn, SMFIF_DELRCPT))

check("lean: conninfo accepted", mt.conninfo(conn, "client.example", "192.0.2.7") == nil)
check("lean: MAIL FROM accepted", mt.mailfrom(conn, "<sender@example.org>") == nil)
check("lean: blocked@ still refused", mt.rcptto(conn, "<blocked@example.com>") == nil
      and mt.getreply(conn) == SMFIR_REPLYCODE)
mt.disconnect(conn)
