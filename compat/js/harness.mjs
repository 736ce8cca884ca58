// Starts a live kiln for the compatibility tests: the binary named by
// KILN_BIN, on 127.0.0.1 with a free port and a temporary data directory,
// with personal access tokens enabled and a token minted for the first
// admin through the offline admin commands.
//
// Anything missing (KILN_BIN, the binary, a server that does not come up)
// throws: the suite fails, it never skips.

import { spawn, execFile } from "node:child_process";
import { access, mkdtemp, rm } from "node:fs/promises";
import { constants } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export const ADMIN_EMAIL = "admin@kiln.test";
const ADMIN_PASSWORD = "js compat suite password";

async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startKiln() {
  const bin = process.env.KILN_BIN;
  if (!bin) {
    throw new Error("KILN_BIN is not set: run compat/js/run.sh, or build kiln (go build -o /tmp/kiln ./cmd/kiln) and set KILN_BIN to it");
  }
  try {
    await access(bin, constants.X_OK);
  } catch {
    throw new Error(`KILN_BIN=${bin} is not an executable file`);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), "kiln-js-compat-"));
  const dataDir = path.join(dir, "data");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // A clean environment: no DATABRICKS_* or KILN_* settings of the caller.
  const env = { PATH: process.env.PATH, HOME: dir, KILN_ADMIN_EMAIL: ADMIN_EMAIL, KILN_ADMIN_PASSWORD: ADMIN_PASSWORD };

  let log = "";
  const proc = spawn(bin, ["serve", "--addr", `127.0.0.1:${port}`, "--data-dir", dataDir, "--log-level", "warn"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout.on("data", (b) => (log += b));
  proc.stderr.on("data", (b) => (log += b));
  let exited = null;
  proc.on("exit", (code, signal) => (exited = { code, signal }));

  const admin = async (...args) => {
    try {
      const { stdout } = await execFileP(bin, ["admin", ...args, "--data-dir", dataDir], { env });
      return stdout.trim();
    } catch (e) {
      throw new Error(`kiln admin ${args.join(" ")} failed: ${e.stderr || e.message}`);
    }
  };

  const stop = async () => {
    if (exited === null) {
      proc.kill("SIGTERM");
      for (let i = 0; i < 100 && exited === null; i++) await sleep(50);
      if (exited === null) proc.kill("SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(async () => {
      if (exited !== null) throw new Error(`kiln serve exited (${JSON.stringify(exited)}):\n${log}`);
      const res = await fetch(`${url}/healthz`).catch(() => null);
      return res !== null && res.ok;
    }, "kiln serve to answer /healthz");

    await admin("conf", "set", "enableTokensConfig=true");
    const token = await admin("tokens", "create", "--user", ADMIN_EMAIL, "--comment", "js compat suite");
    await waitForToken(url, token);
    return { url, token, admin, waitForToken: (t) => waitForToken(url, t), stop, log: () => log };
  } catch (e) {
    await stop();
    throw e;
  }
}

// waitForToken polls until the running server accepts a token minted
// offline (it applies offline changes within a second).
export async function waitForToken(url, token) {
  await waitFor(async () => {
    const res = await fetch(`${url}/api/2.0/preview/scim/v2/Me`, { headers: { Authorization: `Bearer ${token}` } });
    return res.ok;
  }, "the server to accept a token minted offline");
}

async function waitFor(fn, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
