import { describe, expect, it } from "vitest";
import { MAX_SOCKET_PATH, resolvePaths } from "../../src/store/paths.js";

const base = { home: "/home/alice", uid: 1000, cwd: "/work" };

describe("resolvePaths", () => {
  it("defaults to the XDG fallbacks under HOME", () => {
    const p = resolvePaths({ ...base, env: { HOME: "/home/alice" } });
    expect(p.stateDir).toBe("/home/alice/.local/state/openclaw");
    expect(p.bondsDir).toBe("/home/alice/.local/state/openclaw/bonds");
    expect(p.identityFile).toBe("/home/alice/.local/state/openclaw/identity.json");
    expect(p.auditFile).toBe("/home/alice/.local/state/openclaw/audit.jsonl");
    expect(p.logFile).toBe("/home/alice/.local/state/openclaw/daemon.log");
    expect(p.configFile).toBe("/home/alice/.config/openclaw/config.json");
    expect(p.runtimeDir).toBe("/tmp/openclaw-1000");
    expect(p.socketPath).toMatch(/^\/tmp\/openclaw-1000\/daemon-[0-9a-f]{12}\.sock$/);
  });

  it("state dir: --state-dir > OPENCLAW_STATE_DIR > XDG_STATE_HOME > ~/.local/state", () => {
    const env = { HOME: "/h", OPENCLAW_STATE_DIR: "/env/state", XDG_STATE_HOME: "/xdg/state" };
    expect(resolvePaths({ ...base, env, stateDir: "/opt/s" }).stateDir).toBe("/opt/s");
    expect(resolvePaths({ ...base, env }).stateDir).toBe("/env/state");
    expect(resolvePaths({ ...base, env: { ...env, OPENCLAW_STATE_DIR: "" } }).stateDir).toBe(
      "/xdg/state/openclaw",
    );
    // XDG: a relative value is ignored; a person's own relative path resolves against the cwd.
    expect(resolvePaths({ ...base, env: { HOME: "/h", XDG_STATE_HOME: "rel" } }).stateDir).toBe(
      "/h/.local/state/openclaw",
    );
    expect(resolvePaths({ ...base, env, stateDir: "mine/../s" }).stateDir).toBe("/work/s");
    expect(resolvePaths({ ...base, env: { HOME: "/h", OPENCLAW_STATE_DIR: "./x/" } }).stateDir).toBe(
      "/work/x",
    );
  });

  it("config: OPENCLAW_CONFIG > XDG_CONFIG_HOME > ~/.config", () => {
    expect(
      resolvePaths({ ...base, env: { HOME: "/h", OPENCLAW_CONFIG: "/c.json", XDG_CONFIG_HOME: "/x" } })
        .configFile,
    ).toBe("/c.json");
    expect(resolvePaths({ ...base, env: { HOME: "/h", XDG_CONFIG_HOME: "/x" } }).configFile).toBe(
      "/x/openclaw/config.json",
    );
    // The config does not follow the state dir.
    expect(resolvePaths({ ...base, env: { HOME: "/h" }, stateDir: "/s" }).configFile).toBe(
      "/h/.config/openclaw/config.json",
    );
  });

  it("one socket per state directory, in XDG_RUNTIME_DIR when set", () => {
    const env = { HOME: "/h", XDG_RUNTIME_DIR: "/run/user/1000" };
    const a = resolvePaths({ ...base, env, stateDir: "/s/a" });
    const a2 = resolvePaths({ ...base, env, stateDir: "/s/x/../a/" });
    const b = resolvePaths({ ...base, env, stateDir: "/s/b" });
    expect(a.runtimeDir).toBe("/run/user/1000/openclaw");
    expect(a.socketPath).toMatch(/^\/run\/user\/1000\/openclaw\/daemon-[0-9a-f]{12}\.sock$/);
    expect(a2.socketPath).toBe(a.socketPath);
    expect(b.socketPath).not.toBe(a.socketPath);
  });

  it("keeps the socket path short enough for sun_path, falling back to shorter names", () => {
    const cases = [
      { len: 40, name: /\/openclaw\/daemon-[0-9a-f]{12}\.sock$/, fallback: false },
      { len: 70, name: /\/openclaw\/[0-9a-f]{12}\.sock$/, fallback: false },
      { len: 90, name: /^\/tmp\/openclaw-1000\/[0-9a-f]{12}\.sock$/, fallback: true },
    ];
    for (const { len, name, fallback } of cases) {
      const runtime = `/${"r".repeat(len)}`;
      const p = resolvePaths({ ...base, env: { HOME: "/h", XDG_RUNTIME_DIR: runtime }, stateDir: "/s" });
      expect(Buffer.byteLength(p.socketPath)).toBeLessThanOrEqual(MAX_SOCKET_PATH);
      expect(p.socketPath).toMatch(name);
      // The runtime dir is always the socket's own directory (the daemon makes it 0700).
      expect(p.socketPath.startsWith(`${p.runtimeDir}/`)).toBe(true);
      expect(p.runtimeDir).toBe(fallback ? "/tmp/openclaw-1000" : `${runtime}/openclaw`);
    }
    // Multi-byte characters count as bytes.
    const p = resolvePaths({
      ...base,
      env: { HOME: "/h", XDG_RUNTIME_DIR: `/${"é".repeat(40)}` },
      stateDir: "/s",
    });
    expect(Buffer.byteLength(p.socketPath)).toBeLessThanOrEqual(MAX_SOCKET_PATH);
  });

  it("does not touch the disk (paths that do not exist are fine)", () => {
    const p = resolvePaths({ ...base, env: {}, stateDir: "/does/not/exist" });
    expect(p.stateDir).toBe("/does/not/exist");
    expect(p.configFile).toBe("/home/alice/.config/openclaw/config.json");
  });
});
