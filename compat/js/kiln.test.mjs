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
// The jobs tests run real notebooks (kiln executes them with python3):
// imported through workspace.import, submitted and waited for with the
// SDK's own waiters (jobs.submit(...).wait(), runNow, cancelRun), their
// results read with getRunOutput on the task run ids.

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

test("SCIM: entitlements, single-quoted filters, sortBy and application/scim+json answers", async () => {
  // Workspace and SQL access come from the users group, as on Databricks.
  const groups = await admin.groupsV2._list({ filter: "displayName eq 'users'" });
  assert.equal(groups.Resources.length, 1);
  assert.deepEqual(groups.Resources[0].entitlements.map((e) => e.value).sort(), ["databricks-sql-access", "workspace-access"]);

  const plain = await admin.usersV2.create({ userName: "go-sdk-plain@kiln.test" });
  assert.equal(plain.entitlements, undefined, JSON.stringify(plain));
  const u = await admin.usersV2.create({ userName: "go-sdk-ent@kiln.test", entitlements: [{ value: "allow-cluster-create" }] });
  const got = await admin.usersV2.get({ id: u.id });
  assert.deepEqual(got.entitlements.map((e) => e.value), ["allow-cluster-create"]);

  const listed = await admin.usersV2._list({ filter: "userName sw 'go-sdk-'", sortBy: "userName", sortOrder: "descending" });
  assert.deepEqual(listed.Resources.map((r) => r.userName), ["go-sdk-plain@kiln.test", "go-sdk-ent@kiln.test"]);

  // The SDK reads SCIM answers whatever their type; this is the type.
  const headers = new Headers({ "Content-Type": "application/scim+json; charset=utf-8" });
  await admin.config.authenticate(headers);
  const res = await fetch(new URL(`/api/2.0/preview/scim/v2/Users/${u.id}`, await admin.config.getHost()), { headers });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/scim+json; charset=utf-8");

  await admin.usersV2.delete({ id: plain.id });
  await admin.usersV2.delete({ id: u.id });
});

test("a refused token is an ApiError, not retried", async () => {
  const start = Date.now();
  const bad = clientFor("dapi" + "0".repeat(32));
  await assert.rejects(bad.currentUser.me(), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.statusCode, 403);
    assert.equal(e.message, "Invalid access token.");
    return true;
  });
  assert.ok(Date.now() - start < 5000, "a 403 must not be retried");
});

// The notebook the jobs tests run: two widgets (one with a default), a
// line of output, a Markdown cell, and a JSON exit value.
const ETL_NOTEBOOK = `# Databricks notebook source
dbutils.widgets.text("day", "never")
dbutils.widgets.text("env", "dev")
print("processing", dbutils.widgets.get("day"))

# COMMAND ----------

# MAGIC %md
# MAGIC Exit with a summary.

# COMMAND ----------

import json
dbutils.notebook.exit(json.dumps({"day": dbutils.widgets.get("day"), "env": dbutils.widgets.get("env")}))
`;

const b64 = (s) => Buffer.from(s, "utf8").toString("base64");

// importNotebook puts a Python notebook at path through the SDK's
// workspace.import (JSON with base64 content), replacing what is there.
async function importNotebook(path, source) {
  await admin.workspace.mkdirs({ path: path.slice(0, path.lastIndexOf("/")) });
  await admin.workspace.import({ path, format: "SOURCE", language: "PYTHON", content: b64(source), overwrite: true });
}

// taskOutput returns the output of a run's only task: get-output takes a
// task run id (2.1 and later refuse the run's own id).
async function taskOutput(client, run) {
  assert.equal(run.tasks?.length, 1, JSON.stringify(run));
  return client.jobs.getRunOutput({ run_id: run.tasks[0].run_id });
}

test("workspace.import, getStatus, list, export and delete", async () => {
  await importNotebook("/Shared/js/etl", ETL_NOTEBOOK);
  const st = await admin.workspace.getStatus({ path: "/Shared/js/etl" });
  assert.equal(st.object_type, "NOTEBOOK");
  assert.equal(st.language, "PYTHON");
  assert.equal(st.path, "/Shared/js/etl");
  assert.equal(typeof st.object_id, "number");

  const listed = await collect(admin.workspace.list({ path: "/Shared/js" }), (o) => o.path);
  assert.ok(listed.some((o) => o.path === "/Shared/js/etl" && o.object_type === "NOTEBOOK"), JSON.stringify(listed));

  const ex = await admin.workspace.export({ path: "/Shared/js/etl", format: "SOURCE" });
  assert.equal(Buffer.from(ex.content, "base64").toString("utf8"), ETL_NOTEBOOK);

  // Without overwrite an existing path is refused; a missing one is 404.
  await rejectsWith(
    admin.workspace.import({ path: "/Shared/js/etl", format: "SOURCE", language: "PYTHON", content: b64("print(1)") }),
    409,
    "RESOURCE_ALREADY_EXISTS",
  );
  await rejectsWith(admin.workspace.getStatus({ path: "/Shared/js/nope" }), 404, "RESOURCE_DOES_NOT_EXIST");

  await importNotebook("/Shared/js/scratch/tmp", "print(1)\n");
  await rejectsWith(admin.workspace.delete({ path: "/Shared/js/scratch" }), 400, "DIRECTORY_NOT_EMPTY");
  await admin.workspace.delete({ path: "/Shared/js/scratch", recursive: true });
  await rejectsWith(admin.workspace.getStatus({ path: "/Shared/js/scratch" }), 404, "RESOURCE_DOES_NOT_EXIST");
});

test("jobs.submit(...).wait() of a notebook run, and getRunOutput", async () => {
  await importNotebook("/Shared/js/etl", ETL_NOTEBOOK);
  const waiter = await admin.jobs.submit({
    run_name: "js sdk submit",
    tasks: [{ task_key: "etl", notebook_task: { notebook_path: "/Shared/js/etl", base_parameters: { day: "2024-01-02" } } }],
  });
  assert.equal(typeof waiter.run_id, "number");
  assert.ok(Number.isSafeInteger(waiter.run_id), `run_id ${waiter.run_id} must be exact in JavaScript`);

  const seen = [];
  const run = await waiter.wait({ onProgress: async (r) => seen.push(r.state.life_cycle_state) });
  assert.equal(run.run_id, waiter.run_id);
  assert.equal(run.state.life_cycle_state, "TERMINATED");
  assert.equal(run.state.result_state, "SUCCESS", JSON.stringify(run.state));
  assert.equal(run.run_type, "SUBMIT_RUN");
  assert.equal(run.run_name, "js sdk submit");
  assert.ok(seen.length >= 1 && seen.at(-1) === "TERMINATED", JSON.stringify(seen));
  assert.ok(run.run_page_url.startsWith(kiln.url + "/"), run.run_page_url);
  assert.ok(run.end_time >= run.start_time, JSON.stringify(run));
  assert.equal(run.tasks[0].task_key, "etl");
  assert.notEqual(run.tasks[0].run_id, run.run_id, "a task has a run id of its own");

  const out = await taskOutput(admin, run);
  assert.equal(out.notebook_output.result, '{"day": "2024-01-02", "env": "dev"}');
  assert.equal(out.notebook_output.truncated, false);
  assert.equal(JSON.parse(out.notebook_output.result).day, "2024-01-02");
  assert.match(out.logs, /processing 2024-01-02/);
  assert.equal(out.metadata.run_id, run.tasks[0].run_id);
  assert.equal(out.metadata.state.result_state, "SUCCESS");
  assert.equal(out.error, undefined);

  // The run's own id: 2.2 refuses it, as Databricks does.
  await assert.rejects(admin.jobs.getRunOutput({ run_id: run.run_id }), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.statusCode, 400);
    assert.equal(e.errorCode, "INVALID_PARAMETER_VALUE");
    assert.match(e.message, /Retrieving the output of runs with multiple tasks is not supported/);
    return true;
  });

  // getRun on the task run id answers the task run.
  const task = await admin.jobs.getRun({ run_id: run.tasks[0].run_id });
  assert.equal(task.run_id, run.tasks[0].run_id);
  assert.equal(task.state.result_state, "SUCCESS");
});

test("a failing notebook: the waiter returns the FAILED run, getRunOutput the error", async () => {
  await importNotebook("/Shared/js/bad", 'print("about to fail")\n\n# COMMAND ----------\n\n1/0\n');
  const run = await (
    await admin.jobs.submit({ run_name: "js sdk failing", tasks: [{ task_key: "bad", notebook_task: { notebook_path: "/Shared/js/bad" } }] })
  ).wait();
  assert.equal(run.state.life_cycle_state, "TERMINATED");
  assert.equal(run.state.result_state, "FAILED");
  assert.equal(run.tasks[0].state.result_state, "FAILED");
  const out = await taskOutput(admin, run);
  assert.equal(out.error, "ZeroDivisionError: division by zero");
  assert.match(out.error_trace, /Traceback \(most recent call last\)/);
  assert.match(out.logs, /about to fail/);
  assert.deepEqual(out.notebook_output, {}, "a notebook that did not exit has an empty notebook_output");
});

test("jobs.create, list, get, runNow(...).wait(), listRuns and delete", async () => {
  await importNotebook("/Shared/js/etl", ETL_NOTEBOOK);
  const name = `js nightly ${Date.now()}`;
  const { job_id } = await admin.jobs.create({
    name,
    parameters: [{ name: "env", default: "dev" }],
    max_concurrent_runs: 2,
    tasks: [{ task_key: "main", notebook_task: { notebook_path: "/Shared/js/etl", base_parameters: { day: "base" } } }],
  });
  assert.equal(typeof job_id, "number");
  assert.ok(Number.isSafeInteger(job_id));

  const named = await collect(admin.jobs.list({ name, expand_tasks: true }), (j) => j.job_id);
  assert.equal(named.length, 1, JSON.stringify(named));
  assert.equal(named[0].job_id, job_id);
  assert.equal(named[0].settings.name, name);
  assert.equal(named[0].settings.tasks[0].task_key, "main");
  assert.equal(named[0].creator_user_name, ADMIN_EMAIL);
  const all = await collect(admin.jobs.list({}), (j) => j.job_id);
  assert.ok(all.some((j) => j.job_id === job_id));

  const got = await admin.jobs.get({ job_id });
  assert.equal(got.settings.name, name);
  assert.equal(got.settings.max_concurrent_runs, 2);
  assert.deepEqual(got.settings.parameters, [{ name: "env", default: "dev" }]);

  // notebook_params win over base_parameters.
  const first = await admin.jobs.runNow({ job_id, notebook_params: { day: "2024-03-04" } });
  assert.equal(typeof first.run_id, "number");
  const run = await first.wait();
  assert.equal(run.job_id, job_id);
  assert.equal(run.run_type, "JOB_RUN");
  assert.equal(run.state.result_state, "SUCCESS", JSON.stringify(run.state));
  assert.deepEqual(run.overriding_parameters?.notebook_params, { day: "2024-03-04" });
  assert.equal((await taskOutput(admin, run)).notebook_output.result, '{"day": "2024-03-04", "env": "dev"}');

  // job_parameters override the job's defaults.
  const second = await (await admin.jobs.runNow({ job_id, job_parameters: { env: "prod" } })).wait();
  assert.equal((await taskOutput(admin, second)).notebook_output.result, '{"day": "base", "env": "prod"}');

  const runs = await collect(admin.jobs.listRuns({ job_id }), (r) => r.run_id);
  assert.deepEqual(
    runs.map((r) => r.run_id),
    [second.run_id, run.run_id],
    "listRuns: this job's runs, newest first",
  );
  assert.ok(runs.every((r) => r.job_id === job_id && r.state.result_state === "SUCCESS"));

  // Another user does not see the job.
  await rejectsWith(jane.jobs.get({ job_id }), 400, "INVALID_PARAMETER_VALUE");

  await admin.jobs.delete({ job_id });
  await assert.rejects(admin.jobs.get({ job_id }), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.statusCode, 400);
    assert.equal(e.message, `Job ${job_id} does not exist.`);
    return true;
  });
  assert.ok(!(await collect(admin.jobs.list({ name }), (j) => j.job_id)).length, "a deleted job is not listed");
});

test("jobs.cancelRun(...).wait() ends a running notebook as CANCELED", async () => {
  await importNotebook("/Shared/js/slow", "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n");
  const { run_id } = await admin.jobs.submit({
    run_name: "js sdk cancel",
    tasks: [{ task_key: "slow", notebook_task: { notebook_path: "/Shared/js/slow" } }],
  });
  const start = Date.now();
  const run = await (await admin.jobs.cancelRun({ run_id })).wait();
  assert.equal(run.run_id, run_id);
  assert.equal(run.state.life_cycle_state, "TERMINATED");
  assert.equal(run.state.result_state, "CANCELED");
  assert.equal(run.state.user_cancelled_or_timedout, true);
  assert.match(run.state.state_message, /canceled by admin@kiln\.test/);
  assert.ok(Date.now() - start < 30000, "the cancel took effect long before the notebook's 60 s");
});
