"""`Mailman.*` from Lua against a served rumble: each script is an eval
service (it runs the Lua line a test sends and answers with JSON), loaded
with its own grants, so every call goes through the real WIT boundary and
the real store, and the tests check the results with real clients (imaplib,
the store's rows, the mailbox).

Scripts: `admin` (mailman.write *, sendmail *), `reader` (mailman.read *),
`none` (no mailman grant), and the tenants `tenanta` / `tenantb` (mailman.write *,
sendmail *, narrowed by `tenant a.test` / `tenant b.test`)."""

import base64
import hashlib
import imaplib
import json
import re
import subprocess

import pytest

from conftest import LineClient, Server, free_port, rumble_bin, script_run, write_config
from mailstore import db, letters, queue, wait_letters

EVAL = r'''
local function encode(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "nil" then return "null" end
  if t == "boolean" or t == "number" then return tostring(v) end
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  end
  if t ~= "table" or depth > 20 then return '"<' .. t .. '>"' end
  local n = #v
  local count = 0
  for _ in pairs(v) do count = count + 1 end
  if n > 0 and count == n then
    local out = {}
    for i = 1, n do out[i] = encode(v[i], depth + 1) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local value = v[k]
    if value == nil then value = v[tonumber(k)] end
    out[#out + 1] = encode(k) .. ":" .. encode(value, depth + 1)
  end
  return "{" .. table.concat(out, ",") .. "}"
end

Rumble.createService(function(session)
  local code = session:receive():decode64()
  local f, err = load(code, "=cmd")
  local reply
  if not f then
    reply = "ERR " .. err
  else
    local results = table.pack(pcall(f))
    if results[1] then
      local values = {}
      for i = 2, results.n do values[i - 1] = results[i] == nil and "<nil>" or results[i] end
      reply = "OK " .. encode(values)
    else
      reply = "ERR " .. tostring(results[2])
    end
  end
  session:send(reply, "\r\n")
end, tonumber(Rumble.readConfig(SCRIPT .. "port")), 4)
'''

SCRIPTS = {
    "admin": ["mailman.write *", "sendmail *"],
    "reader": ["mailman.read *"],
    "none": [],
    "tenanta": ["mailman.write *", "sendmail *", "tenant a.test"],
    "tenantb": ["mailman.write *", "sendmail *", "tenant b.test"],
}

RAW_SUBJECT = "=?utf-8?q?caf=C3=A9_menu?="
MULTIPART = (
    "From: Ann <ann@example.org>\r\nTo: ann@example.org\r\nSubject: " + RAW_SUBJECT + "\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
    "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello there\r\n"
    "--XX\r\nContent-Type: application/pdf; name=\"menu.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"menu.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "JVBERi0xLjQK\r\n--XX--\r\n"
)


class Rig:
    def __init__(self, folder):
        self.folder = folder
        self.ports = {name: free_port() for name in SCRIPTS}
        self.imap_port = free_port()
        lines = [
            "ServerName mx.example.org", f"DataFolder {folder}/data", f"StorageFolder {folder}/storage",
            "BindToAddress 127.0.0.1", "EnableSMTP 0", "EnableSubmission 0", "EnableSMTPS 0",
            f"EnableIMAP4 1", f"IMAP4Port {self.imap_port}", "AllowPlaintextAuth 1",
            # sendMail is the server's own: BlockOutgoingMail (for SMTP clients) must not stop it.
            "BlockOutgoingMail 1",
            # Remote mail waits in the queue: no DNS answers here.
            "DNSServer 127.0.0.1:9", "RetryInterval 600",
        ]
        for name, grants in SCRIPTS.items():
            (folder / f"{name}.lua").write_text(f'local SCRIPT = "{name}"\n' + EVAL)
            lines += [f"{name}Port {self.ports[name]}", f"LoadScript {folder}/{name}.lua",
                      f"Grant {name} listen {self.ports[name]}", f"Grant {name} config.read {name}port"]
            lines += [f"Grant {name} {g}" for g in grants]
        self.config = "\n".join(lines) + "\n"
        write_config(folder / "rumble.conf", self.config)
        for domain in ("example.org", "a.test", "b.test"):
            self.admin_cli("domain", "add", domain)
        for address in ("ann@example.org", "alice@a.test", "bob@b.test"):
            self.admin_cli("account", "add", address, "--password", "pw")
        self.server = Server(folder, self.config)

    def admin_cli(self, *args):
        cmd = [str(rumble_bin()), "--config", str(self.folder / "rumble.conf"), *args]
        subprocess.run(cmd, check=True, capture_output=True)

    def call(self, script, code):
        """Run `code` (a Lua chunk) in `script`: its results as a list, or
        raise LuaError with the error text."""
        with LineClient(self.ports[script]) as c:
            reply = c.ask(base64.b64encode(code.encode()).decode())
        if reply.startswith("OK "):
            return [None if v == "<nil>" else v for v in json.loads(reply[3:])]
        raise LuaError(reply[4:] if reply.startswith("ERR ") else reply)

    def value(self, script, code):
        return self.call(script, code)[0]

    def uid(self, address):
        user, domain = address.split("@")
        return self.value("admin", f'return Mailman.readAccount("{domain}", "{user}").id')


class LuaError(Exception):
    pass


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    r = Rig(tmp_path_factory.mktemp("luamailman"))
    yield r
    r.server.stop()


def denied(rig, script, code, capability):
    with pytest.raises(LuaError) as e:
        rig.call(script, code)
    assert f'permission denied: {capability} (script "{script}")' in str(e.value), str(e.value)


def bad_argument(rig, code, text):
    with pytest.raises(LuaError) as e:
        rig.call("admin", code)
    assert text in str(e.value), str(e.value)


# ---- addresses ----

def test_account_exists_is_exact(rig):
    assert rig.value("admin", 'return Mailman.accountExists("example.org", "ann")') is True
    assert rig.value("reader", 'return Mailman.accountExists("example.org", "nobody")') is False
    bad_argument(rig, "return Mailman.accountExists()", "bad argument #1 to 'accountExists' (string expected, got no value)")
    bad_argument(rig, 'return Mailman.accountExists("example.org", {})', "bad argument #2 to 'accountExists' (string expected, got table)")
    denied(rig, "none", 'return Mailman.accountExists("example.org", "ann")', "mailman.read example.org")


def test_address_exists_uses_delivery_globs_longest_first(rig):
    assert rig.value("admin", 'return Mailman.saveAccount{name="sales-*", domain="example.org", type="alias", arguments="ann@example.org"}')
    assert rig.call("admin", 'return Mailman.addressExists("example.org", "sales-eu"), Mailman.accountExists("example.org", "sales-eu")') == [True, False]
    assert rig.value("admin", 'return Mailman.readAccount("example.org", "sales-eu").name') == "sales-*"
    assert rig.value("reader", 'return Mailman.addressExists("example.org", "buyers")') is False
    bad_argument(rig, 'return Mailman.addressExists("example.org")', "bad argument #2 to 'addressExists' (string expected, got no value)")
    denied(rig, "tenanta", 'return Mailman.addressExists("example.org", "sales-eu")', "mailman.read example.org")


# ---- domains ----

def test_create_update_delete_domain(rig):
    assert rig.call("admin", 'return Mailman.createDomain("New.test"), Mailman.createDomain("new.test")') == [True, False]
    assert rig.value("admin", "return Mailman.listDomains()")["new.test"] == {"flags": 0, "path": ""}
    assert rig.value("admin", 'return Mailman.updateDomain("new.test", "renamed.test", nil, 1)') is True
    domains = rig.value("admin", "return Mailman.listDomains()")
    assert "new.test" not in domains and domains["renamed.test"] == {"flags": 1, "path": ""}
    assert rig.call("admin", 'return Mailman.deleteDomain("renamed.test"), Mailman.deleteDomain("renamed.test")') == [True, False]
    bad_argument(rig, "return Mailman.createDomain(nil)", "bad argument #1 to 'createDomain' (string expected, got nil)")
    bad_argument(rig, 'return Mailman.createDomain("x.test", "", "many")', "bad argument #3 to 'createDomain' (number expected, got string)")
    bad_argument(rig, 'return Mailman.createDomain("bad domain!")', "is not a valid domain name")
    bad_argument(rig, 'return Mailman.createDomain("x.test", "/etc")', "a domain path must be a folder inside StorageFolder")
    bad_argument(rig, 'return Mailman.updateDomain("a.test")', "bad argument #2 to 'updateDomain' (string expected, got no value)")
    denied(rig, "reader", 'return Mailman.createDomain("x.test")', "mailman.write x.test")
    denied(rig, "tenanta", 'return Mailman.createDomain("x.test")', "mailman.write x.test")
    denied(rig, "tenanta", 'return Mailman.deleteDomain("b.test")', "mailman.write b.test")
    denied(rig, "tenanta", 'return Mailman.updateDomain("a.test", "b2.test")', "mailman.write b2.test")
    assert "x.test" not in rig.value("admin", "return Mailman.listDomains()")


def test_a_domain_path_stays_inside_storage_and_its_letters_are_listed(rig):
    assert rig.value("admin", 'return Mailman.createDomain("own.test", "own")') is True
    path = rig.value("admin", "return Mailman.listDomains()")["own.test"]["path"]
    assert path == str(rig.folder / "storage" / "own")
    assert rig.value("admin", 'return Mailman.saveAccount{name="olga", domain="own.test", type="mbox", password="pw"}')
    rig.value("admin", r'return Mailman.sendMail("ann@example.org", "olga@own.test", "Subject: own path\r\n\r\nhi\r\n")')
    wait_letters(rig.folder, "olga@own.test", 1)
    assert list((rig.folder / "storage" / "own").glob("*.msg")), "the letter is in the domain's own folder"
    # Rumble read headers from StorageFolder only: here they come from the real file.
    rows = rig.value("admin", f"return Mailman.listHeaders({rig.uid('olga@own.test')})")
    assert rows[0]["subject"] == "own path"
    # Deleting the domain takes its accounts, letters and files along (Rumble left the accounts).
    assert rig.value("admin", 'return Mailman.deleteDomain("own.test")') is True
    assert letters(rig.folder, "olga@own.test") == []
    assert not list((rig.folder / "storage" / "own").glob("*.msg"))


def test_list_domains_shows_what_the_script_may_read(rig):
    everything = rig.value("reader", "return Mailman.listDomains()")
    assert {"example.org", "a.test", "b.test"} <= set(everything)
    assert set(rig.value("tenanta", "return Mailman.listDomains()")) == {"a.test"}
    assert set(rig.value("tenantb", "return Mailman.listDomains()")) == {"b.test"}
    denied(rig, "none", "return Mailman.listDomains()", "mailman.read")


# ---- accounts ----

def test_list_accounts(rig):
    rows = rig.value("reader", 'return Mailman.listAccounts("a.test")')
    assert [(r["name"], r["domain"], r["type"]) for r in rows] == [("alice", "a.test", "mbox")]
    assert set(rows[0]) == {"id", "name", "domain", "password", "type", "arguments"}
    assert rows[0]["password"].startswith("$argon2id$")
    assert rig.value("reader", 'return Mailman.listAccounts("unknown.test")') == {}
    bad_argument(rig, "return Mailman.listAccounts()", "bad argument #1 to 'listAccounts' (string expected, got no value)")
    denied(rig, "tenanta", 'return Mailman.listAccounts("b.test")', "mailman.read b.test")


def test_read_account_by_uid_and_by_name(rig):
    bob = rig.value("admin", 'return Mailman.readAccount("B.test", "Bob")')
    assert (bob["name"], bob["domain"], bob["type"]) == ("bob", "b.test", "mbox")
    assert rig.value("reader", f"return Mailman.readAccount({bob['id']})") == bob
    assert rig.value("reader", 'return Mailman.readAccount("b.test", "nobody")') is None
    assert rig.value("reader", "return Mailman.readAccount(999999)") is None
    bad_argument(rig, "return Mailman.readAccount(true)", "bad argument #1 to 'readAccount' (number or string expected, got boolean)")
    bad_argument(rig, "return Mailman.readAccount(1.5)", "bad argument #1 to 'readAccount' (number has no integer representation)")
    denied(rig, "none", f"return Mailman.readAccount({bob['id']})", "mailman.read b.test")
    denied(rig, "tenanta", f"return Mailman.readAccount({bob['id']})", "mailman.read b.test")


def imap_login(rig, user, password):
    m = imaplib.IMAP4("127.0.0.1", rig.imap_port)
    m.login(user, password)
    return m


def stored_password(rig, domain, user):
    with db(rig.folder) as c:
        return c.execute('SELECT password FROM accounts WHERE domain = ? AND "user" = ?', (domain, user)).fetchone()[0]


def test_save_account_with_a_plain_password_hashes_it(rig):
    secret = "Plain-Text-Never-Stored-42"
    assert rig.value("admin", f'return Mailman.saveAccount{{name="carol", domain="example.org", type="mbox", password="{secret}"}}') is True
    stored = stored_password(rig, "example.org", "carol")
    assert stored.startswith("$argon2id$") and secret not in stored
    imap_login(rig, "carol@example.org", secret).logout()
    assert secret not in rig.server.log()
    # The same name again is refused, as Rumble (false).
    assert rig.value("admin", 'return Mailman.saveAccount{name="carol", domain="example.org", type="mbox", password="x"}') is False
    # Read back and saved again: the argon2 hash is kept, not hashed twice.
    assert rig.value("admin", 'local a = Mailman.readAccount("example.org", "carol"); a.arguments = "note"; return Mailman.saveAccount(a)') is True
    assert stored_password(rig, "example.org", "carol") == stored
    imap_login(rig, "carol@example.org", secret).logout()


def test_save_account_keeps_rumbles_sha256_and_updates_by_id(rig):
    assert rig.value("admin", 'return Mailman.saveAccount{name="dave", domain="example.org", type="mbox", password=("pw2"):SHA256()}') is True
    assert stored_password(rig, "example.org", "dave") == hashlib.sha256(b"pw2").hexdigest()
    imap_login(rig, "dave@example.org", "pw2").logout()
    uid = rig.uid("dave@example.org")
    # A 64-hex password meant as a password: plain = true.
    hexpw = "ab" * 32
    assert rig.value("admin", f'return Mailman.saveAccount{{id={uid}, name="dave", domain="example.org", type="mbox", password="{hexpw}", plain=true}}') is True
    assert stored_password(rig, "example.org", "dave").startswith("$argon2id$")
    imap_login(rig, "dave@example.org", hexpw).logout()
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(rig, "dave@example.org", "pw2")
    assert rig.value("admin", 'return Mailman.saveAccount{id=999999, name="ghost", domain="example.org", type="mbox"}') is False
    assert rig.value("admin", 'return Mailman.saveAccount{name="x", domain="nowhere.test", type="mbox"}') is False
    bad_argument(rig, "return Mailman.saveAccount()", "bad argument #1 to 'saveAccount' (table expected, got no value)")
    bad_argument(rig, 'return Mailman.saveAccount{name="x"}', "bad argument #1 to 'saveAccount' (field 'domain': string expected, got nil)")
    bad_argument(rig, 'return Mailman.saveAccount{name="x", domain="example.org", type="feed"}', 'unknown account type "feed"')
    denied(rig, "reader", 'return Mailman.saveAccount{name="x", domain="example.org", type="mbox"}', "mailman.write example.org")


def test_delete_account(rig):
    assert rig.value("admin", 'return Mailman.saveAccount{name="erin", domain="example.org", type="mbox", password="pw"}')
    assert rig.value("admin", 'return Mailman.saveAccount{name="fred", domain="example.org", type="mbox", password="pw"}')
    uid = rig.uid("fred@example.org")
    letter = send_to(rig, "fred@example.org", "Subject: last words\r\n\r\nbye\r\n")
    denied(rig, "reader", f"return Mailman.deleteAccount({uid})", "mailman.write example.org")
    denied(rig, "tenanta", 'return Mailman.deleteAccount("example.org", "erin")', "mailman.write example.org")
    assert rig.call("admin", 'return Mailman.deleteAccount("example.org", "erin"), Mailman.deleteAccount("example.org", "erin")') == [True, False]
    assert rig.value("admin", f"return Mailman.deleteAccount({uid})") is True
    assert rig.value("admin", 'return Mailman.accountExists("example.org", "fred")') is False
    assert not (rig.folder / "storage" / f"{letter['fid']}.msg").exists(), "the letter's file went with the account"
    # By name it is that account, never the catch-all pattern delivery would pick.
    assert rig.value("admin", 'return Mailman.deleteAccount("example.org", "sales-nobody")') is False
    bad_argument(rig, "return Mailman.deleteAccount()", "bad argument #1 to 'deleteAccount' (number or string expected, got no value)")


# ---- mail ----

def send_to(rig, address, message=MULTIPART):
    before = len(letters(rig.folder, address))
    fid = rig.value("admin", f"return Mailman.sendMail('ann@example.org', '{address}', {lua_string(message)})")
    assert re.fullmatch(r"[a-z]{16}", fid), fid
    return wait_letters(rig.folder, address, before + 1)[-1]


def lua_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n") + '"'


def test_list_folders(rig):
    uid = rig.uid("alice@a.test")
    folders = rig.value("reader", f"return Mailman.listFolders({uid})")
    assert folders["0"] == "INBOX"
    assert {"Drafts", "Sent", "Trash", "Junk"} <= set(folders.values())
    assert rig.call("reader", "return Mailman.listFolders(999999)") == [None, "not found: account 999999"]
    bad_argument(rig, "return Mailman.listFolders('x')", "bad argument #1 to 'listFolders' (number expected, got string)")
    denied(rig, "tenantb", f"return Mailman.listFolders({uid})", "mailman.read a.test")


def test_list_headers_read_mail_and_flags(rig):
    letter = send_to(rig, "ann@example.org")
    uid = rig.uid("ann@example.org")
    imap = imap_login(rig, "ann@example.org", "pw")
    imap.select("INBOX")
    imap.uid("STORE", str(letter["uid"]), "+FLAGS", "(\\Flagged)")
    rows = [r for r in rig.value("reader", f"return Mailman.listHeaders({uid})") if r["file"] == letter["fid"]]
    assert len(rows) == 1
    row = rows[0]
    assert row["subject"] == "caf\u00e9 menu" and row["from"] == "Ann <ann@example.org>"
    assert row["read"] is False and row["size"] == letter["size"]
    assert rig.value("reader", f'return #Mailman.listHeaders({uid}, "INBOX")') == rig.value("reader", f"return #Mailman.listHeaders({uid}, 0)")

    mail = rig.value("reader", f"return Mailman.readMail({uid}, {row['id']})")
    assert mail["headers"]["subject"] == "caf\u00e9 menu"
    assert mail["type"] == "multipart/mixed" and "body" not in mail
    text, pdf = mail["parts"]
    assert text["type"] == "text/plain" and text["body"].strip() == "hello there"
    assert pdf["name"] == "menu.pdf" and pdf["content"] == "%PDF-1.4\n"
    assert mail["attachments"] == [{"name": "menu.pdf", "type": "application/pdf", "size": 9, "content": "%PDF-1.4\n"}]
    # \Seen is added and \Flagged kept (Rumble set the flags to exactly \Seen).
    imap.logout()
    imap = imap_login(rig, "ann@example.org", "pw")
    imap.select("INBOX")
    _, data = imap.uid("FETCH", str(letter["uid"]), "(FLAGS)")
    flags = data[0].decode()
    assert "\\Seen" in flags and "\\Flagged" in flags, flags
    imap.logout()
    assert rig.value("reader", f"return Mailman.readMail({uid}, 999999)") is None
    bad_argument(rig, f"return Mailman.readMail({uid})", "bad argument #2 to 'readMail' (number expected, got no value)")
    bad_argument(rig, "return Mailman.listHeaders()", "bad argument #1 to 'listHeaders' (number expected, got no value)")
    denied(rig, "tenanta", f"return Mailman.readMail({uid}, {row['id']})", "mailman.read example.org")
    denied(rig, "none", f"return Mailman.listHeaders({uid})", "mailman.read example.org")


def test_read_mail_of_a_single_part_letter_has_a_body(rig):
    letter = send_to(rig, "bob@b.test", "Subject: plain\r\n\r\njust text\r\n")
    uid = rig.uid("bob@b.test")
    rows = rig.value("tenantb", f"return Mailman.listHeaders({uid})")
    row = [r for r in rows if r["file"] == letter["fid"]][0]
    mail = rig.value("tenantb", f"return Mailman.readMail({uid}, {row['id']})")
    assert mail["body"] == "just text\r\n" and "parts" not in mail and mail["read"] is True


def test_delete_mail(rig):
    letter = send_to(rig, "alice@a.test", "Subject: bin me\r\n\r\nx\r\n")
    uid = rig.uid("alice@a.test")
    row = [r for r in rig.value("reader", f"return Mailman.listHeaders({uid})") if r["file"] == letter["fid"]][0]
    denied(rig, "reader", f"return Mailman.deleteMail({uid}, {row['id']})", "mailman.write a.test")
    denied(rig, "tenantb", f"return Mailman.deleteMail({uid}, {row['id']})", "mailman.write a.test")
    assert rig.call("tenanta", f"return Mailman.deleteMail({uid}, {row['id']}), Mailman.deleteMail({uid}, {row['id']})") == [True, False]
    assert all(r["fid"] != letter["fid"] for r in letters(rig.folder, "alice@a.test"))
    assert not (rig.folder / "storage" / f"{letter['fid']}.msg").exists()
    bad_argument(rig, "return Mailman.deleteMail(nil, 1)", "bad argument #1 to 'deleteMail' (number expected, got nil)")


# ---- sending and the queue ----

def test_send_mail_is_queued_before_it_returns_and_delivered_promptly(rig):
    # A remote recipient stays queued (no DNS here; BlockOutgoingMail is for SMTP clients).
    code = r'''
local id = Mailman.sendMail("<ann@example.org>", {"far@remote.test", "<bob@b.test>"}, "Subject: out\r\n\r\nhi\r\n")
local seen = false
for _, q in ipairs(Mailman.getQueue()) do
  if q.file == id and q.recipient == "far@remote.test" then seen = true end
end
return id, seen
'''
    before = len(letters(rig.folder, "bob@b.test"))
    fid, seen = rig.call("admin", code)
    assert seen is True
    rows = [r for r in queue(rig.folder) if r[0] == fid]
    assert ("ann@example.org", "far@remote.test") in [(r[1], r[2]) for r in rows]
    # The local recipient is delivered at once (the mailman was woken).
    latest = wait_letters(rig.folder, "bob@b.test", before + 1, timeout=5)[-1]
    stored = (rig.folder / "storage" / f"{latest['fid']}.msg").read_bytes()
    assert stored.endswith(b"Subject: out\r\n\r\nhi\r\n")
    # What a submission server adds (RFC 6409 §8): trace, Date, Message-ID.
    head = stored.split(b"\r\n\r\n", 1)[0].decode()
    assert re.search(r"^Received: by \S+ \(Rumble, script admin\); ", head, re.M), head
    assert re.search(r"^Date: \w{3}, \d{1,2} \w{3} \d{4} ", head, re.M), head
    assert re.search(r"^Message-ID: <[a-z]{16}\.admin@[^>]+>\r?$", head, re.M), head
    # A message with its own Date and Message-ID keeps them, alone.
    own = "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <own@example.org>\r\nSubject: own\r\n\r\nhi\r\n"
    stored = (rig.folder / "storage" / f"{send_to(rig, 'bob@b.test', own)['fid']}.msg").read_bytes()
    head = stored.split(b"\r\n\r\n", 1)[0].decode()
    assert head.count("Date:") == 1 and head.count("Message-ID:") == 1 and "<own@example.org>" in head, head


def test_send_mail_bad_input(rig):
    assert rig.call("admin", 'return Mailman.sendMail("not an address", "bob@b.test", "x")')[0] is None
    assert "bad sender address" in rig.call("admin", 'return Mailman.sendMail("ann@", "bob@b.test", "x")')[1]
    assert "bad recipient address" in rig.call("admin", 'return Mailman.sendMail("ann@example.org", {"bob@b.test", "<oops"}, "x")')[1]
    assert "empty" in rig.call("admin", 'return Mailman.sendMail("ann@example.org", "bob@b.test", "")')[1]
    bad_argument(rig, 'return Mailman.sendMail("ann@example.org")', "bad argument #2 to 'sendMail' (string or table expected, got no value)")
    bad_argument(rig, 'return Mailman.sendMail("ann@example.org", "bob@b.test")', "bad argument #3 to 'sendMail' (string expected, got no value)")
    denied(rig, "reader", 'return Mailman.sendMail("ann@example.org", "bob@b.test", "x")', "sendmail example.org")


def test_get_queue(rig):
    rig.value("tenantb", r'return Mailman.sendMail("bob@b.test", "q@remote.test", "Subject: q\r\n\r\nq\r\n")')
    rows = rig.value("reader", "return Mailman.getQueue()")
    assert rows and set(rows[0]) == {"id", "file", "time", "sender", "recipient", "loops"}
    assert any(r["sender"] == "bob@b.test" for r in rows)
    rig.value("tenanta", r'return Mailman.sendMail("alice@a.test", "q@remote.test", "Subject: q\r\n\r\nq\r\n")')
    seen_by_a = rig.value("tenanta", "return Mailman.getQueue()")
    assert any(r["sender"] == "alice@a.test" for r in seen_by_a)
    for r in seen_by_a:
        assert r["sender"].endswith("@a.test") or r["recipient"].endswith("@a.test"), r
    seen_by_b = rig.value("tenantb", "return Mailman.getQueue()")
    assert any(r["sender"] == "bob@b.test" for r in seen_by_b)
    assert not any(r["sender"] == "alice@a.test" for r in seen_by_b)
    denied(rig, "none", "return Mailman.getQueue()", "mailman.read")


# ---- tenancy ----

@pytest.mark.parametrize("me,other,mine,theirs", [("tenanta", "tenantb", "a.test", "b.test"),
                                                  ("tenantb", "tenanta", "b.test", "a.test")])
def test_tenants_cannot_touch_each_others_domains(rig, me, other, mine, theirs):
    their_user = {"a.test": "alice", "b.test": "bob"}[theirs]
    their_uid = rig.uid(f"{their_user}@{theirs}")
    # list
    assert theirs not in rig.value(me, "return Mailman.listDomains()")
    denied(rig, me, f'return Mailman.listAccounts("{theirs}")', f"mailman.read {theirs}")
    # read
    denied(rig, me, f'return Mailman.readAccount("{theirs}", "{their_user}")', f"mailman.read {theirs}")
    denied(rig, me, f"return Mailman.listFolders({their_uid})", f"mailman.read {theirs}")
    denied(rig, me, f"return Mailman.listHeaders({their_uid})", f"mailman.read {theirs}")
    # change
    denied(rig, me, f'return Mailman.saveAccount{{name="intruder", domain="{theirs}", type="mbox", password="x"}}', f"mailman.write {theirs}")
    denied(rig, me, f'return Mailman.saveAccount{{id={their_uid}, name="{their_user}", domain="{mine}", type="mbox", password="x"}}', f"mailman.write {theirs}")
    denied(rig, me, f"return Mailman.deleteAccount({their_uid})", f"mailman.write {theirs}")
    denied(rig, me, f'return Mailman.deleteDomain("{theirs}")', f"mailman.write {theirs}")
    # send
    denied(rig, me, f'return Mailman.sendMail("{their_user}@{theirs}", "x@{mine}", "x")', f"sendmail {theirs}")
    # ... while its own domain works
    assert rig.value(me, f'return Mailman.listDomains()["{mine}"].flags') == 0
    assert rig.value(me, f'return #Mailman.listAccounts("{mine}")') >= 1
    assert rig.value(other, f'return Mailman.accountExists("{theirs}", "{their_user}")') is True


def test_every_denial_is_logged_with_the_script(rig):
    denied(rig, "tenanta", 'return Mailman.listAccounts("b.test")', "mailman.read b.test")
    rig.server.wait_for_log(r'script "tenanta": permission denied: mailman.read b.test')


# ---- grants and script run ----

def test_a_bare_domain_grant_is_refused_with_the_fix(tmp_path):
    s = tmp_path / "s.lua"
    s.write_text("print(1)\n")
    for name in ("mailman.read", "mailman.write", "sendmail"):
        r = script_run(s, grants=[name])
        assert r.returncode != 0
        assert f'write "{name} *" for all domains' in r.stderr, r.stderr
    conf = write_config(tmp_path / "rumble.conf", f"DataFolder {tmp_path}/data\nStorageFolder {tmp_path}/storage\n"
                        f"LoadScript {s}\nGrant s mailman.read\n")
    r = subprocess.run([str(rumble_bin()), "check-config", str(conf)], capture_output=True, text=True)
    assert r.returncode != 0 and 'write "mailman.read *" for all domains' in (r.stdout + r.stderr)


def test_script_run_with_a_config_reaches_the_store(tmp_path):
    conf = write_config(tmp_path / "rumble.conf", f"DataFolder {tmp_path}/data\nStorageFolder {tmp_path}/storage\n")
    s = tmp_path / "setup.lua"
    s.write_text('print(Mailman.createDomain("run.test"))\n'
                 'print(Mailman.saveAccount{name="ann", domain="run.test", type="mbox", password="pw"})\n'
                 'print(Mailman.listAccounts("run.test")[1].name)\n')
    r = script_run(s, grants=["mailman.write run.test"], config=conf)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "true\ntrue\nann\n"
    r = script_run(s, grants=["mailman.write other.test"], config=conf)
    assert r.returncode == 1 and 'permission denied: mailman.write run.test (script "setup")' in r.stderr
