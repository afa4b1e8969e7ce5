/**
 * jest fake timers that fake Date only: the AWS SDK's (and its mock's) promises and timers and dynalite's keep
 * running, so a test can move the clock past a deadline or cache lifetime without stalling I/O.
 */
export function fakeDateOnly(nowMs: number): void {
  jest.useFakeTimers({
    now: nowMs,
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'requestAnimationFrame',
      'cancelAnimationFrame',
      'requestIdleCallback',
      'cancelIdleCallback',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
}
