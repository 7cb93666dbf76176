import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hasToken, isAuthority, isToken, isTokenByte, trimOws } from "../src/handshake/_syntax.ts";

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
// / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

describe("isTokenByte", () => {
  it("isTokenByte accepts exactly the tchar bytes of RFC 9110", () => {
    for (let byte = 0; byte < 256; byte++) {
      assert.equal(isTokenByte(byte), TCHAR.includes(String.fromCharCode(byte)), `0x${byte}`);
    }
  });
});

describe("isToken", () => {
  it("isToken accepts tokens and rejects the empty string, separators and non-ASCII", () => {
    assert.equal(isToken("chat.v2"), true);
    assert.equal(isToken(TCHAR), true);
    for (const value of ["", "a b", "a,b", "a/b", "(a)", "a\tb", "é", "a\u0100"]) {
      assert.equal(isToken(value), false, JSON.stringify(value));
    }
  });
});

describe("hasToken", () => {
  it("hasToken finds a member case-insensitively with optional whitespace around", () => {
    assert.equal(hasToken("keep-alive, Upgrade", "upgrade"), true);
    assert.equal(hasToken(" ,\tUPGRADE\t", "upgrade"), true);
    assert.equal(hasToken("upgrade-insecure", "upgrade"), false);
    assert.equal(hasToken("up grade", "upgrade"), false);
    assert.equal(hasToken(null, "upgrade"), false);
  });
});

describe("trimOws", () => {
  it("trimOws strips SP and HT only", () => {
    assert.equal(trimOws(" \t a b \t "), "a b");
    assert.equal(trimOws("\u00a0a\n"), "\u00a0a\n");
    assert.equal(trimOws(" \t "), "");
  });
});

describe("isAuthority", () => {
  it("isAuthority accepts a reg-name, IPv4 or IPv6 host with an optional port", () => {
    for (const value of ["a.test", "a.test:8080", "127.0.0.1:1", "[::1]", "[::1]:80", "a%20b"]) {
      assert.equal(isAuthority(value), true, value);
    }
  });

  it("isAuthority rejects userinfo, paths, spaces, bad ports and broken brackets", () => {
    for (const value of ["", ":80", "u@a", "a/b", "a b", "a:8o", "a:80:80", "[::1", "[zz]", "[]"]) {
      assert.equal(isAuthority(value), false, value);
    }
  });
});
