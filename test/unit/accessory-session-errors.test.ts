/**
 * The accessory's session never answers an error with an error (PROTOCOL §3.4): an error response sent
 * by the controller inside a verified session ends the session quietly; a request still gets its answer.
 */
import { describe, expect, it } from "vitest";
import { encodePayload } from "../../src/protocol/session/payload.js";
import { addBond, controllerVerify, testController, testDevice } from "../../src/protocol/session/testing.js";
import { openAccessorySession } from "../../src/protocol/verify/accessory.js";

function verified() {
  const d = testDevice("errors");
  const c = testController("errors:admin");
  addBond(d, c, "admin");
  const v = controllerVerify(d, c);
  const opened = openAccessorySession(v.start(), {
    deviceId: d.deviceId,
    identity: d.identity,
    bonds: d.host,
    host: d.host,
    clock: d.clock,
    random: d.random,
  });
  const controller = v.finish(opened.reply, { clock: c.clock }).channel;
  return { session: opened.session, controller };
}

describe("accessory session: error responses from the controller", () => {
  it("an error response from the controller ends the session without an answer", () => {
    const { session, controller } = verified();
    const errorBody = Uint8Array.of(0x01, 0x00, 0x01, 0x0a);
    const record = controller.seal(encodePayload({ kind: "error", id: 7, body: errorBody }));
    const r = session.handle(record);
    expect(r.replies).toEqual([]);
    expect(r.events).toEqual([{ kind: "sessionEnded", reason: "the controller sent an error response" }]);
    expect(session.state).toBe("closed");
  });

  it("a request is still answered", () => {
    const { session, controller } = verified();
    const r = session.handle(
      controller.seal(encodePayload({ kind: "request", id: 1, command: 1, body: new Uint8Array() })),
    );
    expect(r.replies).toHaveLength(1);
    expect(session.state).toBe("open");
  });
});
