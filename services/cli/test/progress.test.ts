/**
 * The upload's progress bar on a terminal, on a clock the test moves: however fast the file
 * is read, the bar is redrawn at most ten times in any second, its last frame included, and
 * that last frame shows the whole file.
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Output } from '../src/output.ts';
import { Meter, showUpload } from '../src/progress.ts';

/** cli-progress starts every frame by moving the cursor to the first column. */
const FRAME = '\u001b[1G';

interface Frame {
  at: number;
  text: string;
}

function terminal(frames: Frame[]): Writable & { isTTY: boolean; columns: number } {
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = chunk.toString();
      if (text.includes(FRAME)) frames.push({ at: Date.now(), text });
      else if (frames.length > 0 && !text.startsWith('\u001b[')) {
        // The text of a frame may come as its own write after the cursor move.
        const last = frames[frames.length - 1] as Frame;
        last.text += text;
      }
      done();
    },
  });
  return Object.assign(stream, { isTTY: true, columns: 160 });
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 }));
afterEach(() => mock.timers.reset());

test('an upload read as fast as it comes is redrawn at most 10 times in any second, its last frame included', async () => {
  const frames: Frame[] = [];
  const tty = terminal(frames);
  const out = new Output({ stdout: tty, stderr: tty }, { json: false, env: {} });
  const meter = new Meter();
  meter.resume();
  const row = Buffer.from('someone@example.com,Some One,pro\n');
  // Frames fall on every 100 ms of the clock: the file ends 50 ms after one, the worst moment
  // for the last frame.
  const rows = 5050;
  const bar = showUpload(out, meter, row.length * rows, 'upload');
  // A row every millisecond for five seconds: far more updates than frames.
  for (let i = 0; i < rows; i++) {
    meter.write(row);
    // The stream moves on the event loop (setImmediate is not mocked), the clock by hand.
    await new Promise((resolve) => setImmediate(resolve));
    mock.timers.tick(1);
  }
  const stopped = bar.stop();
  mock.timers.tick(1000);
  await stopped;

  assert.ok(frames.length >= 40, `only ${frames.length} frames in 5 s: the bar did not move`);
  for (let i = 0; i < frames.length; i++) {
    const inSecond = frames.filter(
      (f) => f.at >= (frames[i] as Frame).at && f.at < (frames[i] as Frame).at + 1000,
    ).length;
    assert.ok(
      inSecond <= 10,
      `${inSecond} frames in the second from ${(frames[i] as Frame).at} ms`,
    );
  }
  const last = frames[frames.length - 1] as Frame;
  assert.match(last.text, /100%/, `the last frame: ${JSON.stringify(last.text)}`);
  assert.match(last.text, /5,050 rows/);
});
