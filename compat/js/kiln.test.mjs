// Compatibility suite: the official Databricks JavaScript SDK
// (@databricks/sdk-experimental, pinned to 0.17.0) against a live kiln.
//
// Run it with compat/js/run.sh, which builds kiln and sets KILN_BIN.
//
// Known client bugs, worked around here and not in the server:
//   - The SDK sends every PATCH without a body (api-client.js attaches a
//     payload to POST and PUT only), so workspaceConf.setStatus and
//     tokenManagement.updatePermissions cannot work. kiln must answer them
//     with a clean 400, never a crash; the suite checks that, then sends the
//     PATCH itself, authenticated by the SDK's own Config.
//   - Its SCIM list() iterators never advance startIndex: they ask for the
//     same page forever. The suite stops at the first repeated id, and
//     checks with _list that kiln honours startIndex.
//
// TODO(jobs): add the jobs calls (create, runNow, getRun, list) once kiln
// serves the Jobs API.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import { startKiln, ADMIN_EMAIL } from "./harness.mjs";

const require = createRequire(import.meta.url);
const sdk = require("@databricks/sdk-experimental");
const { WorkspaceClient, Config, ApiError } = sdk;

const sdkVersion = require("@databricks/sdk-experimental/package.json").version;
const JANE_EMAIL = "jane@kiln.test";

let kiln;
let admin; // WorkspaceClient as the first admin
let jane; // WorkspaceClient as a user who is not an admin

// clientFor builds an SDK client from explicit settings only: env {} keeps
// the caller's DATABRICKS_* variables and ~/.databrickscfg out of it.
function clientFor(token) {
  return new WorkspaceClient(new Config({ host: kiln.url, token, authType: "pat", env: {} }));
}

// collect drains an async iterator, stopping at the first repeated id
// (the SDK's SCIM iterators never advance; see above).
async function collect(iter, idOf = (x) => x.id, max = 10000) {
  const out = [];
  const seen = new Set();
  for await (const item of iter) {
    const id = idOf(item);
    if (seen.has(id) || out.length >= max) break;
    seen.add(id);
    out.push(item);
  }
  return out;
}

// rejectsWith asserts that p fails with an SDK ApiError of the given
// status (and error code, when given).
async function rejectsWith(p, statusCode, errorCode) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof ApiError, `want an ApiError, got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.statusCode, statusCode, `status of ${e.message}`);
    if (errorCode) assert.equal(e.errorCode, errorCode, `error code of ${e.message}`);
    return true;
  });
}

// patchWithBody sends a PATCH with its body, authenticated by the SDK's
// Config: the workaround for the SDK's body-less PATCH.
async function patchWithBody(client, path, body) {
  const headers = new Headers({ "Content-Type": "application/json", Accept: "application/json" });
  await client.config.authenticate(headers);
  const res = await fetch(new URL(path, await client.config.getHost()), {
    method: "PATCH",
    headers,
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `PATCH ${path}: ${text}`);
  return text === "" ? {} : JSON.parse(text);
}

before(async () => {
  assert.equal(sdkVersion, "0.17.0", "the suite is pinned to @databricks/sdk-experimental 0.17.0");
  kiln = await startKiln();
  admin = clientFor(kiln.token);

  // A second user with CAN_USE, through the SDK's PUT (which keeps its body).
  await kiln.admin("users", "create", "--email", JANE_EMAIL);
  const perms = await admin.tokenManagement.setPermissions({
    access_control_list: [{ group_name: "users", permission_level: "CAN_USE" }],
  });
  assert.ok(
    perms.access_control_list.some((a) => a.group_name === "users" && a.all_permissions.some((p) => p.permission_level === "CAN_USE")),
    JSON.stringify(perms),
  );
  const janeToken = await kiln.admin("tokens", "create", "--user", JANE_EMAIL, "--comment", "jane");
  await kiln.waitForToken(janeToken);
  jane = clientFor(janeToken);
});

after(async () => {
  await kiln?.stop();
});

test("currentUser.me", async () => {
  const me = await admin.currentUser.me();
  assert.equal(me.userName, ADMIN_EMAIL);
  assert.match(me.id, /^\d+$/, "SCIM ids are decimal strings");
  assert.equal(me.active, true);
  assert.ok(me.groups.some((g) => g.display === "admins"), JSON.stringify(me.groups));
  assert.ok(me.emails.some((e) => e.value === ADMIN_EMAIL && e.primary));

  const j = await jane.currentUser.me();
  assert.equal(j.userName, JANE_EMAIL);
  assert.ok(!j.groups.some((g) => g.display === "admins"));
});

test("tokens.create, list and delete", async () => {
  const before = Date.now();
  const created = await admin.tokens.create({ comment: "js sdk", lifetime_seconds: 3600 });
  assert.match(created.token_value, /^dapi[0-9a-f]{32}$/);
  const info = created.token_info;
  assert.match(info.token_id, /^[0-9a-f]{64}$/);
  assert.equal(info.comment, "js sdk");
  assert.ok(info.creation_time >= before - 5000 && info.creation_time <= Date.now() + 5000, `creation_time ${info.creation_time}`);
  assert.ok(Math.abs(info.expiry_time - info.creation_time - 3600 * 1000) < 2000, `expiry_time ${info.expiry_time}`);

  // The new token works at once.
  const withNew = clientFor(created.token_value);
  assert.equal((await withNew.currentUser.me()).userName, ADMIN_EMAIL);

  const listed = await collect(admin.tokens.list(), (t) => t.token_id);
  const mine = listed.find((t) => t.token_id === info.token_id);
  assert.ok(mine, "the new token is listed");
  assert.equal(mine.comment, "js sdk");
  assert.equal(mine.expiry_time, info.expiry_time);
  for (const t of listed) {
    assert.equal(typeof t.creation_time, "number");
    assert.equal(typeof t.expiry_time, "number");
    assert.equal(t.token_value, undefined, "list never returns token values");
  }

  // Without a lifetime the workspace default applies (90 days).
  const dflt = await admin.tokens.create({ comment: "default lifetime" });
  const days = (dflt.token_info.expiry_time - dflt.token_info.creation_time) / 86400000;
  assert.ok(Math.abs(days - 90) < 0.01, `default lifetime ${days} days`);
  await admin.tokens.delete({ token_id: dflt.token_info.token_id });

  await admin.tokens.delete({ token_id: info.token_id });
  const after = await collect(admin.tokens.list(), (t) => t.token_id);
  assert.ok(!after.some((t) => t.token_id === info.token_id), "a revoked token is not listed");
  await rejectsWith(withNew.currentUser.me(), 403);
  await assert.rejects(withNew.currentUser.me(), /Invalid access token/);

  // Revoking it again, or an unknown id: RESOURCE_DOES_NOT_EXIST.
  await rejectsWith(admin.tokens.delete({ token_id: info.token_id }), 404, "RESOURCE_DOES_NOT_EXIST");
});

test("tokenManagement.list, get and delete", async () => {
  const a = await admin.tokens.create({ comment: "tm a", lifetime_seconds: 600 });
  const j = await jane.tokens.create({ comment: "tm jane", lifetime_seconds: 600 });
  const id = a.token_info.token_id;

  const all = await collect(admin.tokenManagement.list({}), (t) => t.token_id);
  const row = all.find((t) => t.token_id === id);
  assert.ok(row, "token-management lists the admin's token");
  assert.equal(row.created_by_username, ADMIN_EMAIL);
  assert.equal(typeof row.created_by_id, "number");
  assert.equal(typeof row.owner_id, "number");
  assert.equal(typeof row.workspace_id, "number");
  assert.ok(all.some((t) => t.token_id === j.token_info.token_id), "and jane's");

  const janes = await collect(admin.tokenManagement.list({ created_by_username: JANE_EMAIL }), (t) => t.token_id);
  assert.ok(janes.length > 0 && janes.every((t) => t.created_by_username === JANE_EMAIL), JSON.stringify(janes));
  const byId = await collect(admin.tokenManagement.list({ created_by_id: row.created_by_id }), (t) => t.token_id);
  assert.ok(byId.some((t) => t.token_id === id) && byId.every((t) => t.created_by_id === row.created_by_id));

  const got = await admin.tokenManagement.get({ token_id: id });
  assert.equal(got.token_info.token_id, id, "get wraps the TokenInfo in token_info");
  assert.equal(got.token_info.comment, "tm a");
  assert.equal(got.token_info.owner_id, row.owner_id);

  // An admin revokes another user's token.
  await admin.tokenManagement.delete({ token_id: j.token_info.token_id });
  await rejectsWith(admin.tokenManagement.get({ token_id: j.token_info.token_id }), 404, "RESOURCE_DOES_NOT_EXIST");
  await rejectsWith(clientFor(j.token_value).currentUser.me(), 403);
  await admin.tokenManagement.delete({ token_id: id });
  await rejectsWith(admin.tokenManagement.delete({ token_id: id }), 404, "RESOURCE_DOES_NOT_EXIST");
});

test("token management needs an admin", async () => {
  await rejectsWith(collect(jane.tokenManagement.list({}), (t) => t.token_id), 403, "PERMISSION_DENIED");
  await rejectsWith(jane.workspaceConf.getStatus({ keys: "enableTokensConfig" }), 403, "PERMISSION_DENIED");
  await rejectsWith(jane.tokenManagement.getPermissions(), 403, "PERMISSION_DENIED");
  // The user's own tokens work.
  const own = await jane.tokens.create({ comment: "own", lifetime_seconds: 600 });
  await jane.tokens.delete({ token_id: own.token_info.token_id });
});

test("tokenManagement permissions", async () => {
  const perms = await admin.tokenManagement.getPermissions();
  assert.equal(perms.object_type, "tokens");
  assert.equal(perms.object_id, "/authorization/tokens");
  assert.ok(
    perms.access_control_list.some((a) => a.group_name === "admins" && a.all_permissions.some((p) => p.permission_level === "CAN_MANAGE")),
    JSON.stringify(perms),
  );
  const levels = await admin.tokenManagement.getPermissionLevels();
  assert.ok(levels.permission_levels.some((l) => l.permission_level === "CAN_USE"), JSON.stringify(levels));
});

test("workspaceConf.getStatus", async () => {
  const conf = await admin.workspaceConf.getStatus({ keys: "enableTokensConfig,maxTokenLifetimeDays" });
  assert.deepEqual(conf, { enableTokensConfig: "true", maxTokenLifetimeDays: "730" });
  await assert.rejects(admin.workspaceConf.getStatus({ keys: "badKey" }), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.statusCode, 400);
    assert.equal(e.message, 'Invalid keys: ["badKey"]');
    return true;
  });
});

test("body-less PATCH gets a clean 400 (SDK bug), and the workaround", async () => {
  // The SDK drops the body of every PATCH.
  await rejectsWith(admin.workspaceConf.setStatus({ maxTokenLifetimeDays: "365" }), 400, "MALFORMED_REQUEST");
  await rejectsWith(
    admin.tokenManagement.updatePermissions({ access_control_list: [{ group_name: "users", permission_level: "CAN_USE" }] }),
    400,
    "MALFORMED_REQUEST",
  );
  // The server is unharmed.
  assert.equal((await admin.currentUser.me()).userName, ADMIN_EMAIL);

  // Workaround: send the PATCH with its body, authenticated by the SDK.
  await patchWithBody(admin, "/api/2.0/workspace-conf", { maxTokenLifetimeDays: "365" });
  assert.deepEqual(await admin.workspaceConf.getStatus({ keys: "maxTokenLifetimeDays" }), { maxTokenLifetimeDays: "365" });
  await patchWithBody(admin, "/api/2.0/workspace-conf", { maxTokenLifetimeDays: "" });
  assert.deepEqual(await admin.workspaceConf.getStatus({ keys: "maxTokenLifetimeDays" }), { maxTokenLifetimeDays: "730" });
  const perms = await patchWithBody(admin, "/api/2.0/permissions/authorization/tokens", {
    access_control_list: [{ user_name: JANE_EMAIL, permission_level: "CAN_USE" }],
  });
  assert.ok(perms.access_control_list.some((a) => a.user_name === JANE_EMAIL), JSON.stringify(perms));
});

test("SCIM users list (the SDK never advances startIndex)", async () => {
  const users = await collect(admin.usersV2.list({}));
  const names = users.map((u) => u.userName).sort();
  assert.deepEqual(names, [ADMIN_EMAIL, JANE_EMAIL].sort());

  // kiln honours startIndex and count, so a client that pages works.
  const page1 = await admin.usersV2._list({ startIndex: 1, count: 1 });
  assert.equal(page1.totalResults, 2);
  assert.equal(page1.Resources.length, 1);
  const page2 = await admin.usersV2._list({ startIndex: 2, count: 1 });
  assert.equal(page2.startIndex, 2);
  assert.equal(page2.Resources.length, 1);
  assert.notEqual(page2.Resources[0].id, page1.Resources[0].id);
  const page3 = await admin.usersV2._list({ startIndex: 3, count: 1 });
  assert.equal(page3.Resources.length, 0);

  const filtered = await admin.usersV2._list({ filter: `userName eq "${JANE_EMAIL}"` });
  assert.equal(filtered.Resources.length, 1);
  assert.equal(filtered.Resources[0].userName, JANE_EMAIL);
});

test("a refused token is an ApiError, not retried", async () => {
  const start = Date.now();
  const bad = clientFor("dapi00000000000000000000000000000000");
  await assert.rejects(bad.currentUser.me(), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.statusCode, 403);
    assert.equal(e.message, "Invalid access token.");
    return true;
  });
  assert.ok(Date.now() - start < 5000, "a 403 must not be retried");
});
