/**
 * `npm run mail:clean`: empties the local engine's capture folder (VOLLEY_CAPTURE_DIR, or
 * `mail` in the state folder). Safe while the engine runs: later messages start a new index.
 */
import { join, resolve } from 'node:path';
import { cleanCaptureDir } from '@volley/mail-capture';
import { ROOT, localStateDir } from '@volley/runtime';

const configured = process.env.VOLLEY_CAPTURE_DIR?.trim();
const dir = configured ? resolve(ROOT, configured) : join(localStateDir(), 'mail');
const n = cleanCaptureDir(dir);
process.stdout.write(`removed ${n} captured messages from ${dir}\n`);
