import type { Figure } from "./report.js";
export async function benchJourneys(_o: { quick?: boolean } = {}): Promise<Figure[]> {
  return [];
}
