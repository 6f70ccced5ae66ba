/** An injectable clock: production uses the system time, tests pass a fixed one. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function fixedClock(at: Date | string | number): Clock {
  const t = new Date(at).getTime();
  return { now: () => new Date(t) };
}
