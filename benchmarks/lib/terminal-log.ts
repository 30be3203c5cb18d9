/**
 * Redraws of a progress bar in what util-linux `script` recorded of a terminal: the bytes
 * (`--log-out`) and, in its classic timing format (`--log-timing`), the delay before each
 * chunk of them. cli-progress starts every frame by moving the cursor to the first column
 * (CSI 1 G), so each such sequence is a frame.
 */

export interface Redraws {
  frames: number;
  /** The most frames in any one-second window. */
  maxPerSecond: number;
  /**
   * Seconds from the first frame to the last: the span the frames' mean rate is over ((frames
   * - 1) / span). Over the upload's own seconds instead, the frame drawn as it starts and the
   * one drawn after the API's answer add 2 / seconds to the rate (10.2 a second for a 2 s
   * upload drawn every 100 ms).
   */
  spanSeconds: number;
}

const FRAME = Buffer.from('\u001b[1G');

/** The time of every byte offset's chunk, from the classic timing lines `<delay s> <bytes>`. */
function chunkTimes(timing: string): { end: number; at: number }[] {
  const chunks: { end: number; at: number }[] = [];
  let at = 0;
  let end = 0;
  for (const line of timing.split('\n')) {
    const m = /^(\d+(?:\.\d+)?) (\d+)$/.exec(line.trim());
    if (!m) continue;
    at += Number(m[1]);
    end += Number(m[2]);
    chunks.push({ end, at });
  }
  return chunks;
}

export function countRedraws(screen: Buffer, timing: string): Redraws {
  // The classic log starts with a "Script started on …" line the timing does not count.
  const header = screen.subarray(0, 17).toString('latin1') === 'Script started on';
  const data = header ? screen.subarray(screen.indexOf(0x0a) + 1) : screen;
  const chunks = chunkTimes(timing);
  const times: number[] = [];
  let c = 0;
  for (let i = data.indexOf(FRAME); i !== -1; i = data.indexOf(FRAME, i + 1)) {
    while (c < chunks.length - 1 && (chunks[c]?.end ?? 0) <= i) c++;
    times.push(chunks[c]?.at ?? 0);
  }
  let maxPerSecond = 0;
  let from = 0;
  for (let to = 0; to < times.length; to++) {
    while ((times[to] ?? 0) - (times[from] ?? 0) >= 1) from++;
    maxPerSecond = Math.max(maxPerSecond, to - from + 1);
  }
  return {
    frames: times.length,
    maxPerSecond,
    spanSeconds: (times.at(-1) ?? 0) - (times[0] ?? 0),
  };
}
