// The handshake module before it was split by concept. Import from "./mod.ts" instead; this file
// goes once nothing imports it.
export * from "./mod.ts";
