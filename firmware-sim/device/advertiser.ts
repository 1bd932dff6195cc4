/**
 * The device's advertising: the bytes follow its state (window open with the nonce, or closed with the
 * rotating tag only bonded laptops resolve), updates are serialised and skipped when nothing changed,
 * and the tag rotates on a named timer of the device's clock.
 */
import type { Clock, TimerHandle } from "../../src/clock/index.js";
import type { Accessory } from "../../src/protocol/accessory/accessory.js";
import { buildAdvertising, rotateTag } from "../../src/protocol/advert.js";
import { isOpenClawError, OpenClawError } from "../../src/protocol/errors.js";
import { PROTOCOL_VERSION } from "../../src/protocol/messages/constants.js";
import type { RandomBytes } from "../../src/protocol/random.js";
import type { Peripheral } from "../../src/radio/peripheral.js";
import { errorEvent, type SimEvent } from "./events.js";

export interface AdvertiserDeps {
  peripheral: Peripheral;
  clock: Clock;
  random: RandomBytes;
  /** The accessory as it is now (a factory reset replaces it). */
  accessory: () => Accessory;
  name: () => string;
  tagRotationMs: number;
  emit: (e: SimEvent) => void;
}

export class Advertiser {
  private tag: Uint8Array | undefined;
  private lastKey = "";
  private queue: Promise<void> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly d: AdvertiserDeps) {}

  /** A fresh tag (boot, and a new identity after a factory reset) and its rotation timer. */
  start(): void {
    this.tag = rotateTag(this.d.accessory().identity.tagKey, this.d.random);
    this.schedule();
  }

  /** Brings the advertisement up to date (resolves when the radio has it). */
  update(): Promise<void> {
    this.queue = this.queue.then(() => this.apply());
    return this.queue;
  }

  stop(): void {
    this.stopped = true;
    this.d.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async apply(): Promise<void> {
    if (this.stopped) return;
    const info = this.d.accessory().info(this.d.clock.now());
    const windowOpen = info.window.state === "open";
    const { advertisement, scanResponse } = buildAdvertising({
      name: this.d.name(),
      version: PROTOCOL_VERSION,
      windowOpen,
      hasBonds: info.bondSlots.used > 0,
      ...(info.window.state === "open" ? { nonce: info.window.nonce } : this.tag ? { tag: this.tag } : {}),
    });
    const key = Buffer.concat([advertisement, scanResponse]).toString("hex");
    // Unchanged data needs no HCI round trip (the peripheral itself resumes advertising after a link).
    if (key === this.lastKey) return;
    this.lastKey = key;
    try {
      await this.d.peripheral.setAdvertising(advertisement, scanResponse);
      this.d.emit({
        type: "advertising",
        name: this.d.name(),
        windowOpen,
        bytes: { adv: advertisement.length, scan: scanResponse.length },
      });
    } catch (err) {
      this.lastKey = "";
      this.d.emit(errorEvent(advertisingFailed(err)));
    }
  }

  /** The tag changes every `tagRotationMs` of device time. */
  private schedule(): void {
    this.d.clock.clearTimeout(this.timer);
    this.timer = this.d.clock.setTimeout("sim.tag-rotation", this.d.tagRotationMs, () => {
      if (this.stopped) return;
      const a = this.d.accessory();
      this.tag = rotateTag(a.identity.tagKey, this.d.random);
      if (a.window.state.kind !== "open") void this.update();
      this.schedule();
    });
  }
}

/** Advertising that the adapter refused: an adapter problem, with its remedy. */
export function advertisingFailed(err: unknown): OpenClawError {
  if (isOpenClawError(err)) return err;
  return new OpenClawError("ADAPTER_UNAVAILABLE", {
    detail: `advertising failed: ${err instanceof Error ? err.message : String(err)}`,
  });
}
