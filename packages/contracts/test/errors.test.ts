// The coded error base the packages' error classes share: what a caller and a log see of one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodedError } from '@volley/contracts';

class ExampleError extends CodedError<'EXAMPLE_INVALID' | 'EXAMPLE_GONE'> {}

test('a coded error keeps its class, its code and its message, and is named after its class', () => {
  const e = new ExampleError('EXAMPLE_GONE', 'campaign c1 is gone');
  assert.ok(e instanceof ExampleError);
  assert.ok(e instanceof CodedError);
  assert.ok(e instanceof Error);
  assert.equal(e.code, 'EXAMPLE_GONE');
  assert.equal(e.message, 'campaign c1 is gone');
  assert.equal(e.name, 'ExampleError');
  assert.match(e.stack ?? '', /^ExampleError: campaign c1 is gone\n/);
  // What a caller branches on survives a catch of unknown.
  const caught: unknown = e;
  assert.ok(caught instanceof ExampleError && caught.code === 'EXAMPLE_GONE');
});
