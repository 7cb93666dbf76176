/** Assertions on the typed errors of netws. */
import assert from "node:assert/strict";
import {
  MessageTooBigError,
  type WebSocketError,
  type WebSocketErrorCode,
} from "../../src/protocol/errors.ts";

/** What an error must be: its class, close code, stable code and, for 1009, size and limit. */
export interface ExpectedError {
  // deno-lint-ignore no-explicit-any
  type: abstract new (...args: any[]) => WebSocketError;
  closeCode: number;
  code: WebSocketErrorCode;
  size?: number;
  limit?: number;
}

/**
 * Checks an error's class, `closeCode` and `code` (and `size`/`limit` when given), and that its
 * message follows the house style: `Cannot …`, no trailing period.
 */
export function assertError(error: unknown, expected: ExpectedError, context = ""): void {
  const where = context === "" ? "" : ` (${context})`;
  assert.ok(
    error instanceof expected.type,
    `expected a ${expected.type.name}${where}, got ${String(error)}`,
  );
  const typed = error as WebSocketError;
  assert.equal(typed.code, expected.code, `code${where}`);
  assert.equal(typed.closeCode, expected.closeCode, `closeCode${where}`);
  assert.match(typed.message, /^Cannot .*[^.]$/s, `message style${where}`);
  if (expected.size !== undefined || expected.limit !== undefined) {
    assert.ok(typed instanceof MessageTooBigError, `MessageTooBigError${where}`);
    if (expected.size !== undefined) assert.equal(typed.size, expected.size, `size${where}`);
    if (expected.limit !== undefined) assert.equal(typed.limit, expected.limit, `limit${where}`);
  }
}

/** Runs `fn`, checks that it throws the expected error, and returns that error. */
export function assertThrowsError(
  fn: () => unknown,
  expected: ExpectedError,
  context = "",
): WebSocketError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  assert.notEqual(thrown, undefined, `expected ${expected.code} to be thrown ${context}`);
  assertError(thrown, expected, context);
  return thrown as WebSocketError;
}
