/**
 * The upload's progress bar and the watch's live view on a terminal, on a clock the test moves:
 * however fast the file is read or the campaign moves, the screen is redrawn at most ten times
 * in any second, its last frame included, and that last frame shows the end.
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Output } from '../src/output.ts';
import { Meter, showUpload, startLiveView } from '../src/progress.ts';

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

test("a watch's bar and the lines under it are redrawn together at most 10 times in any second, its last frame included", async () => {
  // Every write at one instant of the mocked clock belongs to one frame of the block.
  const writes: Frame[] = [];
  const tty = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        writes.push({ at: Date.now(), text: chunk.toString() });
        done();
      },
    }),
    { isTTY: true, columns: 160 },
  );
  const out = new Output({ stdout: tty, stderr: tty }, { json: false, env: {} });
  const view = startLiveView(out, 2000, '{bar} {percentage}% | {value} of {total}', 2);
  // An update every millisecond for two seconds, each changing the bar and both lines.
  for (let i = 1; i <= 2000; i++) {
    view.update(i, {}, [`sent ${i}`, `top deferral reasons: mailboxfull ${i}`]);
    mock.timers.tick(1);
  }
  const stopped = view.stop();
  mock.timers.tick(1000);
  await stopped;

  const frames = [...new Set(writes.filter((w) => w.text.trim() !== '').map((w) => w.at))];
  assert.ok(frames.length >= 15, `only ${frames.length} frames in 2 s: the view did not move`);
  for (const at of frames) {
    const inSecond = frames.filter((f) => f >= at && f < at + 1000).length;
    assert.ok(inSecond <= 10, `${inSecond} frames in the second from ${at} ms`);
  }
  // What stays on screen: the last text drawn of the bar and of each line.
  const lastOf = (pattern: RegExp): string =>
    writes.filter((w) => pattern.test(w.text)).at(-1)?.text ?? '';
  assert.match(lastOf(/ of 2000/), /100% \| 2000 of 2000/);
  assert.match(lastOf(/^sent /), /^sent 2000$/);
  assert.match(lastOf(/mailboxfull/), /mailboxfull 2000$/);
});
