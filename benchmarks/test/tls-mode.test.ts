// The judgement of `npm run bench -- --tls` (benchmarks/lib/tls-mode.ts): a STARTTLS run with a
// message in plaintext, or with no TLS session, fails the check; the ratio and the TLS cost
// pair the plain and TLS runs of the same repetition, whatever order they ran in.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encryptionProblems, summarizeTls, type TlsRun } from '../lib/tls-mode.ts';

function run(over: Partial<TlsRun> & Pick<TlsRun, 'rep' | 'arm'>): TlsRun {
  const tls = over.arm === 'tls';
  return {
    kind: 'volley',
    order: 1,
    messages: 1000,
    failed: 0,
    rate: 1000,
    clientUsPerMsg: 100,
    sinkUsPerMsg: 50,
    restUsPerMsg: 20,
    bytesPerMessage: 5000,
    sink: {
      sessions: 20,
      tlsSessions: tls ? 20 : 0,
      messages: 1000,
      tlsMessages: tls ? 1000 : 0,
      ciphers: tls ? { 'TLSv1.3 TLS_AES_256_GCM_SHA384': 20 } : {},
    },
    loadAvg1: 1,
    ...over,
  };
}

describe('the STARTTLS mode of the benchmark', () => {
  test('passes runs whose encryption is what their arm says', () => {
    assert.deepEqual(encryptionProblems(run({ rep: 1, arm: 'tls' })), []);
    assert.deepEqual(encryptionProblems(run({ rep: 1, arm: 'plain' })), []);
    assert.deepEqual(encryptionProblems(run({ rep: 1, arm: 'tls', kind: 'naive' })), []);
  });

  test('fails a STARTTLS run with messages in plaintext, or without any TLS session', () => {
    const base = run({ rep: 2, arm: 'tls' });
    const leaked = run({
      rep: 2,
      arm: 'tls',
      sink: { ...(base.sink ?? assert.fail()), tlsMessages: 990 },
    });
    assert.deepEqual(encryptionProblems(leaked), [
      'volley tls rep 2: 10 messages arrived without TLS',
    ]);
    const none = run({
      rep: 2,
      arm: 'tls',
      sink: { sessions: 20, tlsSessions: 0, messages: 1000, tlsMessages: 0, ciphers: {} },
    });
    assert.deepEqual(encryptionProblems(none), [
      'volley tls rep 2: no session negotiated TLS',
      'volley tls rep 2: 1000 messages arrived without TLS',
    ]);
  });

  test('fails a run whose sink counts are missing or short of what the run sent', () => {
    assert.deepEqual(encryptionProblems(run({ rep: 1, arm: 'plain', sink: undefined })), [
      "volley plain rep 1: the sink's counts could not be read",
    ]);
    const short = run({ rep: 1, arm: 'plain', messages: 1001 });
    assert.deepEqual(encryptionProblems(short), [
      'volley plain rep 1: the sink counted 1000 messages, the run 1001',
    ]);
  });

  test('pairs the plain and TLS runs of each repetition for the ratio and the cost', () => {
    const runs = [
      run({ rep: 1, arm: 'plain', order: 1, rate: 1000, clientUsPerMsg: 100 }),
      run({ rep: 1, arm: 'tls', order: 2, rate: 900, clientUsPerMsg: 130 }),
      run({ rep: 1, arm: 'tls', kind: 'naive', order: 3, rate: 300 }),
      // Repetition 2 ran TLS first: the pairing follows the repetition, not the order.
      run({ rep: 2, arm: 'tls', order: 1, rate: 700, clientUsPerMsg: 150 }),
      run({ rep: 2, arm: 'plain', order: 2, rate: 1000, clientUsPerMsg: 110 }),
      run({ rep: 2, arm: 'tls', kind: 'naive', order: 3, rate: 350 }),
    ];
    const s = summarizeTls(runs);
    assert.deepEqual(s.ratios, [0.9, 0.7]);
    assert.equal(s.medianRatio, 0.8);
    assert.equal(s.met, false);
    assert.deepEqual(s.cpu.sender.cost.values, [30, 40]);
    assert.deepEqual(s.cpu.sink.cost.values, [0, 0]);
    assert.deepEqual(s.naive.volleyOverNaive.values, [3, 2]);
    assert.deepEqual(s.tlsProblems, []);
    assert.equal(summarizeTls(runs.filter((r) => r.rep === 1)).met, true);
  });
});
