-- negotiate-no-removal.lua: miltertest script, what milter-suppress
-- negotiates with milter.remove-non-smtp = false (and signing and the
-- ledger off): RCPT alone, no action at all but asking for macros, and a
-- suppressed recipient still refused.  Prints "ok - ..." or "not ok - ..."
-- per check.  Expects SOCK (the milter's socket) from miltertest -D.

local function check(desc, cond)
    if cond then mt.echo("ok - " .. desc) else mt.echo("not ok - " .. desc) end
end

local conn = mt.connect(SOCK, 20, 0.25)
check("bare: miltertest connects to the milter", conn ~= nil)
if conn == nil then os.exit(1) end

check("bare: may not remove recipients", not mt.test_action(conn, SMFIF_DELRCPT))
check("bare: may not change the sender", not mt.test_action(conn, SMFIF_CHGFROM))
check("bare: may ask for macros", mt.test_action(conn, SMFIF_SETSYMLIST))
check("bare: no connect, no MAIL", mt.test_option(conn, SMFIP_NOCONNECT)
      and mt.test_option(conn, SMFIP_NOMAIL))
check("bare: RCPT macros accepted",
      mt.macro(conn, SMFIC_RCPT, "{client_addr}", "192.0.2.9", "{client_port}", "40003",
               "{mail_addr}", "bare@example.org") == nil)
check("bare: blocked@ refused", mt.rcptto(conn, "<blocked@example.com>") == nil
      and mt.getreply(conn) == SMFIR_REPLYCODE)
check("bare: ok@ goes on", mt.rcptto(conn, "<ok@example.com>") == nil
      and mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)
