import { OpenClawError } from "../protocol/errors.js";
import type { Quarantine } from "./json-file.js";

/** The STORE_CORRUPT error a person sees for a file that was moved aside (`devices`, `doctor`, the log). */
export function quarantineError(q: Quarantine): OpenClawError<"STORE_CORRUPT"> {
  return new OpenClawError("STORE_CORRUPT", {
    path: q.file,
    quarantinedAs: q.quarantinedAs,
    detail: q.reason,
  });
}
