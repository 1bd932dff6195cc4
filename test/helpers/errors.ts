/** Catching the OpenClawError a call fails with, for assertions on its code and details. */
import { expect } from "vitest";
import { isOpenClawError, type OpenClawError } from "../../src/protocol/errors.js";

/** The OpenClawError `p` rejects with; anything else it rejects with is rethrown, fulfilling fails. */
export async function rejection(p: Promise<unknown>): Promise<OpenClawError> {
  try {
    await p;
  } catch (err) {
    if (isOpenClawError(err)) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}

/** The OpenClawError `f` throws; anything else it throws is rethrown, returning fails. */
export function thrown(f: () => unknown): OpenClawError {
  try {
    f();
  } catch (err) {
    if (isOpenClawError(err)) return err;
    throw err;
  }
  throw new Error("expected an OpenClawError");
}

/** Asserts that `f` throws an OpenClawError with code PROTOCOL_ERROR, and returns it. */
export function expectProtocolError(fn: () => unknown): OpenClawError {
  try {
    fn();
  } catch (err) {
    expect(isOpenClawError(err) && err.code).toBe("PROTOCOL_ERROR");
    return err as OpenClawError;
  }
  throw new Error("expected PROTOCOL_ERROR");
}
